"""Errors of the export, each a one-line message that says what is wrong and how to fix it."""

from __future__ import annotations


class ExportError(ValueError):
    """Bad input for an export (nothing has been written)."""


class UnsupportedModelError(ExportError):
    """The model cannot go into a GGUF file; the message says why (completes "... because ")."""


class ExportCancelled(Exception):
    """The user cancelled; the partial output has been removed."""
