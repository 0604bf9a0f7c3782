"""Datasets: reading (alpaca, chat, ShareGPT, text), validation with file:line messages,
rendering with the model's chat template, and previews.

The contract the trainer, the CLI and the GUI use::

    ds = load_dataset(path, fmt="auto")            # Dataset(.path, .format, .records), or DatasetError
    prefs = load_preferences(path)                 # PreferenceSet(.pairs) for DPO, or DatasetError
    examples = render_examples(ds.records, tokenizer, max_seq_length)   # list[Example]
    report = check_dataset(path, fmt, tokenizer, max_seq_length)        # DatasetReport (.summary())
    lines = preview(path, fmt, tokenizer, n)                             # list[str]

Nothing here imports torch; a tokenizer is any Hugging Face tokenizer object.

Training must see what chat sends: chat prepends ``inference.chat.system_prompt`` (when not
empty) as a system message, so pass the same text as ``system_prompt=`` to ``render_examples``
(records with their own system message keep it). Without it the template's default system
prompt is used.
"""

from llamahome_gui.core.data.formats import load_dataset, parse_dataset
from llamahome_gui.core.data.preference import (
    PreferencePair,
    PreferenceSet,
    load_preferences,
    parse_preferences,
)
from llamahome_gui.core.data.preview import PreviewItem, preview, preview_items
from llamahome_gui.core.data.records import (
    FORMATS,
    Conversation,
    Dataset,
    DatasetError,
    Problem,
    Record,
)
from llamahome_gui.core.data.render import (
    IGNORE_INDEX,
    Example,
    TemplateError,
    prompt_ids,
    render_example,
    render_examples,
    with_system_prompt,
)
from llamahome_gui.core.data.validate import DatasetReport, TokenStats, check_dataset

__all__ = [
    "FORMATS", "IGNORE_INDEX", "Conversation", "Dataset", "DatasetError", "DatasetReport",
    "Example", "PreferencePair", "PreferenceSet", "PreviewItem", "Problem", "Record",
    "TemplateError", "TokenStats", "check_dataset", "load_dataset", "load_preferences",
    "parse_dataset", "parse_preferences", "preview", "preview_items", "prompt_ids",
    "render_example", "render_examples", "with_system_prompt",
]
