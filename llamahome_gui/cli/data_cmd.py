"""``llamahome data check|preview``: validate a dataset and look at rendered examples.

``check`` exits 0 when every record is usable and 2 when some are not, listing the first bad
records by file and line. Token statistics use ``--model`` or, when it is at hand without an
import, the configured model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

BAD_DATA = 2


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="check and preview datasets",
                       description="Validate a dataset file and preview how records are rendered "
                       "with the model's chat template.")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION")
    p.set_defaults(func=lambda _args: (p.print_help(), 1)[1])

    check = dsub.add_parser("check", help="validate a dataset and show its statistics",
                            description="Validate every record; print counts, per-role and token "
                            "statistics and how many records max_seq_length would truncate. "
                            "Exit 0 when the data is usable, 2 when it is not.")
    _common(check)
    check.set_defaults(func=run_check)

    prev = dsub.add_parser("preview", help="show the first records as the model sees them",
                           description="Render the first records with the model's chat template; "
                           "the parts the model learns (the answers) are shown between ⟦ and ⟧.")
    _common(prev)
    prev.add_argument("-n", type=int, default=3, metavar="N", help="records to show (default 3)")
    prev.set_defaults(func=run_preview)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="?", default=None, metavar="FILE",
                   help="dataset file (.json, .jsonl, .txt); default: training.training."
                   "dataset_path, or the bundled sample dataset")
    p.add_argument("--format", dest="fmt", default=None,
                   choices=["auto", "alpaca", "chat", "text", "preference"],
                   help="record layout (default: training.training.dataset_format, usually auto)")
    p.add_argument("--model", default=None, metavar="DIR",
                   help="model folder whose tokenizer and chat template to use")
    p.add_argument("--max-seq-length", type=int, default=None, metavar="N",
                   help="longest training sequence (default: training.training.max_seq_length)")
    p.add_argument("--config-dir", default=None,
                   help="config folder (default: ./config or the user's config folder)")


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """What the config says, with the command line laid over it."""
    from llamahome_gui import paths
    from llamahome_gui.config.manager import ConfigManager
    from llamahome_gui.core.models.loading import remote_code_allowed

    manager = ConfigManager(args.config_dir)
    if manager.origin_note():
        print(manager.origin_note(), file=sys.stderr)
    training = manager.load("training").training
    model = manager.load("model").model
    trusted, note = remote_code_allowed(model.trust_remote_code, flag=False,
                                        trusted_source=manager.is_users_own,
                                        source=str(manager.path("model")))
    if note:
        print(note, file=sys.stderr)
    system_prompt = manager.load("inference").chat.system_prompt
    file = args.file or training.dataset_path or str(paths.SAMPLE_DATASET)
    return {
        "file": Path(file).expanduser(),
        "fmt": args.fmt or training.dataset_format,
        "max_seq_length": args.max_seq_length or training.max_seq_length,
        "model_path": model.path,
        "trust_remote_code": trusted,
        "system_prompt": system_prompt.strip() or None,
    }


def _tokenizer(args: argparse.Namespace, s: dict[str, Any], *, import_starter: bool) -> Any:
    from llamahome_gui.core.models import starter
    from llamahome_gui.core.models.loading import load_tokenizer, resolve_model_dir

    if args.model:
        folder = resolve_model_dir(args.model)
    elif s["model_path"]:
        folder = resolve_model_dir(s["model_path"])
    elif import_starter or starter.is_imported():
        folder = resolve_model_dir("", progress=lambda msg: print(msg, file=sys.stderr))
    else:
        return None
    return load_tokenizer(folder, trust_remote_code=s["trust_remote_code"])


def _config_error(action: str, exc: Any) -> int:
    """A broken config file or LLAMAHOME_* variable: its lines, exit 2 (bad input)."""
    for issue in exc.issues:
        print(f"llamahome data {action}: {issue}", file=sys.stderr)
    return BAD_DATA


def run_check(args: argparse.Namespace) -> int:
    from llamahome_gui.config.errors import ConfigError
    from llamahome_gui.core.data import check_dataset
    from llamahome_gui.core.models.loading import ModelFileError, ModelNotFoundError

    if args.max_seq_length is not None and args.max_seq_length < 1:
        print("llamahome data check: --max-seq-length must be a positive number of tokens",
              file=sys.stderr)
        return BAD_DATA
    try:
        s = _settings(args)
    except ConfigError as exc:
        return _config_error("check", exc)
    try:
        tokenizer = _tokenizer(args, s, import_starter=False)
    except ModelNotFoundError as exc:
        print(f"llamahome data check: {exc}", file=sys.stderr)
        return 1
    except ModelFileError as exc:
        print(f"llamahome data check: {exc}", file=sys.stderr)
        return BAD_DATA
    report = check_dataset(s["file"], s["fmt"], tokenizer, s["max_seq_length"],
                           system_prompt=s["system_prompt"])
    if tokenizer is None:
        report.notes.append("(no token statistics: give --model DIR, or import the starter model "
                            "with `llamahome models import-starter`)")
    print(report.summary())
    if not report.ok:
        print(f"llamahome data check: {s['file']} has {len(report.problems)} problem"
              f"{'s' if len(report.problems) != 1 else ''}", file=sys.stderr)
        return BAD_DATA
    return 0


def run_preview(args: argparse.Namespace) -> int:
    from llamahome_gui.config.errors import ConfigError
    from llamahome_gui.core.data import DatasetError, TemplateError, load_dataset, preview
    from llamahome_gui.core.models.loading import ModelFileError, ModelNotFoundError

    if args.n < 1:
        print("llamahome data preview: -n must be at least 1", file=sys.stderr)
        return BAD_DATA
    try:
        s = _settings(args)
    except ConfigError as exc:
        return _config_error("preview", exc)
    try:
        load_dataset(s["file"], s["fmt"])  # bad data fails before the tokenizer loads
        tokenizer = _tokenizer(args, s, import_starter=True)
        blocks = preview(s["file"], s["fmt"], tokenizer, args.n, s["max_seq_length"],
                         system_prompt=s["system_prompt"])
    except (DatasetError, TemplateError, ModelFileError) as exc:
        print(f"llamahome data preview: {exc}", file=sys.stderr)
        return BAD_DATA
    except ModelNotFoundError as exc:
        print(f"llamahome data preview: {exc}", file=sys.stderr)
        return 1
    print("\n\n".join(blocks))
    return 0
