"""What an export starts from (a run, an adapter, or a model) and the checks made before any
work: the adapter exists and fits its base, the destination is free, the disk has room."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from llamahome_gui.core.export.errors import ExportError


@dataclass(frozen=True)
class ExportSource:
    model_dir: Path               # the base model folder
    adapter_dir: Path | None      # the LoRA adapter, or None to export the base model
    run_dir: Path | None          # the run the adapter came from (model card, system prompt)
    name: str                     # default file / model name

    @property
    def label(self) -> str:
        return f"{self.adapter_dir} on {self.model_dir}" if self.adapter_dir else str(self.model_dir)


def _is_run(folder: Path) -> bool:
    from llamahome_gui.core.runs.history import is_run_dir

    return is_run_dir(folder)


def _resolve_model(model: Path | str | None) -> Path:
    from llamahome_gui.core.models.loading import ModelNotFoundError, resolve_model_dir

    try:
        return resolve_model_dir(model)
    except ModelNotFoundError as exc:
        raise ExportError(str(exc)) from None


def resolve_source(source: Path | None, model: Path | None = None) -> ExportSource:
    """``source``: a run folder, an adapter folder (base from ``model``, its run or its config),
    or a model folder; None exports ``model`` itself."""
    from llamahome_gui.core.runs.folders import slug

    if source is None:
        if model is None:
            raise ExportError("nothing to export: give a run, adapter or model folder, or --model")
        base = _resolve_model(model)
        return ExportSource(base, None, None, slug(base.name))
    source = Path(source).expanduser()
    if not source.exists():
        raise ExportError(f"{source} does not exist; give a run folder, an adapter folder or a "
                          "model folder")
    if _is_run(source):
        from llamahome_gui.core.runs import read_run_config, run_info

        info = run_info(source)
        # The folder's own adapter first: the done event's path is stale once a run is moved.
        adapter = source / "adapter"
        if not (adapter / "adapter_config.json").is_file() and info.adapter is not None:
            adapter = Path(info.adapter)
        if not (Path(adapter) / "adapter_config.json").is_file():
            raise ExportError(f"run {source.name} has no adapter yet (status: {info.status}); "
                              "wait until training finishes or resume it, then export")
        if model is None:
            try:
                model = read_run_config(source)["model"].model.path or None
            except (FileNotFoundError, ValueError):
                model = None
        return ExportSource(_resolve_model(model), Path(adapter), source, slug(source.name))
    if (source / "adapter_config.json").is_file():
        if model is None:
            model = _adapter_base(source)
        run_dir = source.parent if _is_run(source.parent) else None
        name = run_dir.name if run_dir else source.name
        return ExportSource(_resolve_model(model), source, run_dir, slug(name))
    if (source / "config.json").is_file():
        if model is not None and Path(model).expanduser().resolve() != source.resolve():
            raise ExportError(f"{source} is a model folder, so --model {model} does not apply; "
                              "give one of them")
        return ExportSource(source, None, None, slug(source.name))
    raise ExportError(f"{source} is not a run folder, an adapter folder (adapter_config.json) or "
                      "a model folder (config.json)")


def _adapter_base(adapter: Path) -> Path | str | None:
    """The base model an adapter names: its run's config, else an existing folder in
    adapter_config.json; otherwise the user must say."""
    from llamahome_gui.core.chat.setup import run_model_path

    from_run = run_model_path(adapter)
    if from_run is not None:
        return from_run or None
    try:
        named = json.loads((adapter / "adapter_config.json").read_text()).get(
            "base_model_name_or_path") or ""
    except (OSError, ValueError):
        named = ""
    if named and (Path(named).expanduser() / "config.json").is_file():
        return Path(named).expanduser()
    raise ExportError(f"cannot tell which base model {adapter} belongs to; pass --model FOLDER")


def check_adapter_fits(model_dir: Path, adapter_dir: Path) -> list[str]:
    """An adapter trained on another model fails here, by what differs, before anything is
    loaded or written (the one check chat and merge use too); returns its warnings."""
    from llamahome_gui.core.models.adapter_fit import (
        AdapterMismatchError,
        check_adapter_fits_folder,
    )

    if not (adapter_dir / "adapter_model.safetensors").is_file():
        raise ExportError(f"{adapter_dir} has no adapter_model.safetensors; re-save the adapter")
    try:
        return check_adapter_fits_folder(model_dir, adapter_dir)
    except AdapterMismatchError as exc:
        raise ExportError(f"{exc}; pass the --model it was trained on") from None


def check_destination(out: Path, force: bool) -> None:
    if out.exists() and not force:
        raise ExportError(f"{out} already exists; choose another --out, or add --force to "
                          "replace it")


def check_free_space(out: Path, needed: int) -> None:
    """Refuse up front when the destination's disk cannot hold the result (plus 5%)."""
    folder = out.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if free < needed * 1.05:
        raise ExportError(f"not enough free space in {folder}: the export needs about "
                          f"{human_size(needed)}, {human_size(free)} is free; free some space "
                          "or choose another --out")


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"
