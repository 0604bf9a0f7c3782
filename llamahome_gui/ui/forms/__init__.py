"""Forms generated from the pydantic schema -- no form is written by hand.

Use from any page::

    from llamahome_gui.ui.forms import build_form

    form = build_form(ctx.state, "training", sections=["training", "lora"])
    form = build_form(ctx.state, "inference", keys=["generation.*", "chat.system_prompt"])

``build_form(state, component, sections=None, keys=None, *, group_titles=True)`` returns a
:class:`ConfigForm` (a QWidget) holding one editor per chosen field of ``component``:

- ``sections``: section names inside the component (``"lora"``);
- ``keys``: key patterns, with or without the component prefix, ``fnmatch`` style
  (``"training.lora.*"``, ``"chat.system_prompt"``); given both, the union is shown;
- neither: every field of the component.

The editors are bound two-way to ``state`` (the app's one :class:`ConfigState`,
``ctx.state``): an edit anywhere shows everywhere, invalid values show an inline message,
modified fields are marked, and each field's ``...`` menu offers Reset to default / Revert
to saved. Every editor's ``objectName`` is its key path (``training.lora.r``); find one with
``form.editor("training.lora.r")`` or ``window.findChild(QWidget, "training.lora.r")``.
Saving is the window's ``config.save`` action (Ctrl+S), or ``ctx.state.save()``.

Editors come from :data:`registry.REGISTRY`: register your own with
``@register_type(MyType)`` or ``@register_widget("name")`` (then
``json_schema_extra={"widget": "name"}`` on a field); ``REGISTRY.restored()`` undoes
registrations (tests). Built-in widget names: check, int, float, scientific, choice, line,
size, path (``path_kind`` file|dir), text, strlist, checklist, numberlist, toml.
"""

from __future__ import annotations

from collections.abc import Iterable

from PyQt6.QtWidgets import QWidget

from llamahome_gui.ui.forms import editors as _editors  # noqa: F401 - registers the editors
from llamahome_gui.ui.forms import editors_lists as _editors_lists  # noqa: F401
from llamahome_gui.ui.forms.form import ConfigForm, FieldRow, select_keys, tooltip_html
from llamahome_gui.ui.forms.registry import (
    REGISTRY,
    EditorRegistry,
    register_type,
    register_widget,
)
from llamahome_gui.ui.state import ConfigState

__all__ = ["REGISTRY", "ConfigForm", "EditorRegistry", "FieldRow", "build_form",
           "register_type", "register_widget", "select_keys", "tooltip_html"]


def build_form(state: ConfigState, component: str, sections: Iterable[str] | None = None,
               keys: Iterable[str] | None = None, *, group_titles: bool = True,
               fold_advanced: bool = False, parent: QWidget | None = None) -> ConfigForm:
    """Editors for (a subset of) one component, bound to the shared state; with
    ``fold_advanced`` the schema's advanced fields sit behind an "Advanced" toggle."""
    return ConfigForm(state, component, sections, keys, group_titles=group_titles,
                      fold_advanced=fold_advanced, parent=parent)
