"""The run plan: from the effective configs (and ``--set`` overrides) to a run folder.

The Train page and ``llamahome train`` both call :func:`plan_run`, so a run started from the
window and one started from a terminal with the same config get the same components and
values in ``run.toml``, the same name and the same memory estimate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llamahome_gui import paths
from llamahome_gui.config.schema import Component
from llamahome_gui.core.runs.folders import RUN_COMPONENTS, new_run_dir, runs_root, write_run_config

# A GPU driver on the machine: without one, "auto" is the CPU and torch need not be imported.
GPU_DRIVER_PATHS = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/kfd")


class OverrideError(ValueError):
    """A ``--set KEY=VALUE`` that names no key or breaks the schema (a usage error)."""


@dataclass(frozen=True)
class RunPlan:
    """What a new run will be: its validated configs (one per ``RUN_COMPONENTS`` name), its
    name and the folder its run folder goes into."""

    configs: dict[str, Component]
    name: str
    root: Path

    def create(self, run_dir: Path | None = None, now: float | None = None) -> Path:
        """Make the run folder (a fresh ``<stamp>-<name>`` unless ``run_dir`` is given) and
        write ``run.toml``. A folder this call created is removed again if the snapshot
        cannot be written (e.g. the disk is full), so no empty run is left behind."""
        created = run_dir is None or not Path(run_dir).exists()
        folder = Path(run_dir) if run_dir is not None else new_run_dir(self.root, self.name, now)
        try:
            write_run_config(folder, self.configs)
        except BaseException:
            if created:
                _remove_if_empty(folder)
            raise
        return folder

    @property
    def dataset(self) -> Path:
        return dataset_file(self.configs["training"].training.dataset_path)


def dataset_file(value: str) -> Path:
    """``training.training.dataset_path``; empty means the bundled sample dataset."""
    return Path(value).expanduser() if value and value.strip() else paths.SAMPLE_DATASET


def run_name(configs: Mapping[str, Component]) -> str:
    """``<model>-<dataset>``: the model folder's name (or the model's name when it has no
    folder yet) and the dataset file's stem."""
    model = configs["model"].model
    model_name = Path(model.path).expanduser().name if model.path.strip() else model.name
    return f"{model_name}-{dataset_file(configs['training'].training.dataset_path).stem}"


def plan_run(load: Callable[[str], Component], overrides: Iterable[str] = ()) -> RunPlan:
    """The plan for a new run: ``load(component)`` gives each validated component (the
    window: what its forms show; the CLI: the config folder), then the overrides apply."""
    configs = {name: load(name) for name in RUN_COMPONENTS}
    return plan_from_configs(apply_overrides(configs, overrides))


def plan_from_configs(configs: Mapping[str, Component]) -> RunPlan:
    configs = dict(configs)
    return RunPlan(configs=configs, name=run_name(configs),
                   root=runs_root(configs["training"].training.output_dir))


def _remove_if_empty(folder: Path) -> None:
    """Remove a run folder holding nothing but a (partial) snapshot."""
    try:
        for child in folder.iterdir():
            if child.name.startswith(".run.toml") or child.name == "run.toml" or \
                    child.name.endswith(".tmp"):
                child.unlink(missing_ok=True)
        folder.rmdir()
    except OSError:
        pass


# ---------------------------------------------------------------- --set overrides

def parse_override(item: str, configs: Mapping[str, Component]) -> tuple[str, str, Any]:
    """``component.section.key=VALUE`` -> (component, ``section.key``, typed value)."""
    from llamahome_gui.config.introspect import leaves, parse_typed, suggest

    key, sep, raw = item.partition("=")
    key = key.strip()
    parts = key.split(".")
    if not sep or len(parts) < 3:
        raise OverrideError(f"--set {item!r}: write KEY=VALUE with KEY as component.section.key, "
                            "e.g. training.training.max_steps=20")
    component, rel = parts[0], ".".join(parts[1:])
    if component not in configs:
        raise OverrideError(f"--set {key}: unknown component {component!r}{suggest(component, configs)}"
                            f"; known: {', '.join(configs)}")
    fields = leaves(type(configs[component]))
    fields.pop("schema_version", None)
    if rel not in fields:
        section, name = rel.rsplit(".", 1)
        known = [k.rsplit(".", 1)[-1] for k in fields if k.rsplit(".", 1)[0] == section]
        if not known:
            sections = sorted({k.split(".")[0] for k in fields if "." in k})
            raise OverrideError(f"--set {key}: {component} has no section {section!r}; known: "
                                f"{', '.join(sections)}")
        raise OverrideError(f"--set {key}: no key {name!r} in {component}.{section}"
                            f"{suggest(name, known)}; known: {', '.join(known)}")
    return component, rel, parse_typed(raw, fields[rel])


def apply_overrides(configs: Mapping[str, Component], overrides: Iterable[str]
                    ) -> dict[str, Component]:
    """New validated components with the ``--set`` values laid over them (nothing is
    written to any config file)."""
    from pydantic import ValidationError

    changes: dict[str, dict[str, Any]] = {}
    for item in overrides:
        component, rel, value = parse_override(item, configs)
        changes.setdefault(component, {})[rel] = value
    out = dict(configs)
    for component, values in changes.items():
        data = out[component].model_dump()
        for rel, value in values.items():
            *path, last = rel.split(".")
            node = data
            for part in path:
                node = node[part]
            node[last] = value
        try:
            out[component] = type(out[component]).model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in (component, *err["loc"]))
            raise OverrideError(f"--set {where}: {err['msg']}") from None
    return out


# ---------------------------------------------------------------- memory estimate

def estimate_device(model_section: Any) -> str:
    """The device the estimate is for (without importing torch when there is no GPU)."""
    device = model_section.device
    if device == "auto" and not any(Path(p).exists() for p in GPU_DRIVER_PATHS):
        return "cpu"
    if device == "cpu":
        return device
    from llamahome_gui.core.models.loading import pick_device

    return pick_device(device)


@dataclass(frozen=True)
class EstimateInputs:
    """What the data make a training step hold: the longest row the trainer builds and the
    share of a step's tokens the loss counts (the worst batch). Without them the estimate
    assumes full ``max_seq_length`` rows, every token trained."""

    row_length: int | None = None
    trained_fraction: float = 1.0
    source: str = ""  # one line for the table: where the figures come from


_INPUTS_CACHE: dict[tuple, EstimateInputs] = {}


def estimate_inputs(configs: Mapping[str, Component], tokenizer: Any) -> EstimateInputs:
    """The rows exactly as the trainer packs or groups them (core.train's own preparation),
    reduced to what the estimate needs. Raises the trainer's ``TrainingError`` for data it
    could not train on."""
    from llamahome_gui.core.train.session import prepare_run_data

    training = configs["training"].training
    prepared = prepare_run_data(dict(configs), tokenizer)
    row_length = max(row.length for row in prepared.train_rows)  # a batch's width
    # the batch that holds the most trained tokens: the logits' peak
    counted = sorted((sum(s.counted for s in row.samples) for row in prepared.train_rows),
                     reverse=True)
    batch = max(1, training.per_device_train_batch_size)
    worst = sum(counted[:batch])
    fraction = min(1.0, worst / max(1, batch * row_length))
    layout = "packed rows" if training.packing else "rows"
    source = (f"Data: {prepared.dataset_path.name}, {layout} of up to {row_length:,} tokens "
              f"(max_seq_length {training.max_seq_length:,}), {100 * fraction:.0f}% of a "
              "step's tokens trained")
    return EstimateInputs(row_length, fraction, source)


def cached_estimate_inputs(configs: Mapping[str, Component], model_dir: Path) -> EstimateInputs:
    """``estimate_inputs`` for the dataset as it is on disk now (re-read when the file, the
    model or a setting that shapes the rows changes); the worst case with a note when the
    data cannot be read."""
    training = configs["training"].training
    path = dataset_file(training.dataset_path)
    try:
        stat = path.stat()
    except OSError:
        return EstimateInputs(source=f"Data: {path} not readable; assuming full "
                              f"{training.max_seq_length:,}-token rows")
    chat = configs["inference"].chat.system_prompt if "inference" in configs else None
    key = (str(path), stat.st_mtime_ns, stat.st_size, training.dataset_format,
           training.max_seq_length, training.packing, training.eval_split, training.seed,
           training.per_device_train_batch_size, chat, str(model_dir))
    if key not in _INPUTS_CACHE:
        from llamahome_gui.core.models.loading import load_tokenizer
        from llamahome_gui.core.train.errors import TrainingError

        try:
            inputs = estimate_inputs(configs, load_tokenizer(model_dir))
        except (TrainingError, OSError, ValueError) as exc:
            first = str(exc).splitlines()[0]
            return EstimateInputs(source=f"Data: {first}; assuming full "
                                  f"{training.max_seq_length:,}-token rows")
        _INPUTS_CACHE.clear()  # one dataset at a time is all a window or a command asks about
        _INPUTS_CACHE[key] = inputs
    return _INPUTS_CACHE[key]


def estimate_memory(configs: Mapping[str, Component], model_dir: Path,
                    inputs: EstimateInputs | None = None) -> Any:
    """The run's memory estimate for the model in ``model_dir`` and the rows its dataset
    gives (``inputs``: read from the dataset when not given). Imports torch when a GPU may
    be present and tokenizes the data: call it off the UI thread."""
    from llamahome_gui.core.models.memory import estimate_training_memory

    if inputs is None:
        inputs = cached_estimate_inputs(configs, model_dir)
    model = configs["model"].model
    estimate = estimate_training_memory(
        model_dir, configs["training"].training, configs["training"].lora,
        estimate_device(model), dtype=model.dtype, quantization=model.quantization,
        memory_fraction=configs["resource"].gpu.memory_fraction,
        trained_fraction=inputs.trained_fraction, row_length=inputs.row_length,
        max_batch_size=configs["model"].resources.max_batch_size,
        min_gpu_memory=configs["model"].resources.min_gpu_memory)
    if inputs.source:
        estimate.notes.insert(0, inputs.source)
    return estimate
