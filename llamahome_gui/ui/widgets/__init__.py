"""Reusable widgets (``resource_strip.create_strip(ctx)`` is plugged into the status bar)."""
