"""Does a LoRA adapter belong to the loaded model? One check for chat, merge, export, serve.

PEFT attaches an adapter to any model that happens to have modules of the same names and
shapes: an adapter trained on a 2-layer model with the starter's widths loads silently onto
the 30-layer starter and changes only its first two layers. This compares what the adapter
was trained on (its target modules and their layer indices, the LoRA shapes, the base
model's architecture) with the model in memory, before anything is attached.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from llamahome_gui.core.models.loading import read_safetensors_header

_LAYER = re.compile(r"\.layers\.(\d+)\.")
_LORA_SUFFIX = re.compile(r"\.lora_(?:A|B|embedding_A|embedding_B)(?:\.[^.]+)?\.weight$")
_SHAPE_KEYS = ("hidden_size", "num_hidden_layers", "intermediate_size", "num_attention_heads",
               "num_key_value_heads", "vocab_size")


class AdapterMismatchError(ValueError):
    """The adapter was trained on another model; the message lists what differs."""


def check_adapter_fits(model: Any, adapter_dir: Path | str,
                       model_dir: Path | str | None = None) -> list[str]:
    """Raise :class:`AdapterMismatchError` when the adapter does not belong to ``model``;
    return warnings (e.g. trained on a model at another path with the same architecture)."""
    adapter_dir = Path(adapter_dir)
    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    model_config = getattr(base, "config", None)
    problems: list[str] = []
    warnings: list[str] = []
    _compare_base(config, model_config, model_dir, problems, warnings)
    weights = _weights_file(adapter_dir)
    if weights is not None:
        _compare_modules(read_safetensors_header(weights), base, config, problems)
    if problems:
        raise AdapterMismatchError(
            f"adapter {adapter_dir} was not trained on this model"
            f"{f' ({model_dir})' if model_dir else ''}: {'; '.join(problems)}. Load the base "
            "model it was trained on (model.model.path), or train an adapter for this one")
    return warnings


def _weights_file(adapter_dir: Path) -> Path | None:
    path = adapter_dir / "adapter_model.safetensors"
    return path if path.is_file() else None


def _compare_base(config: dict[str, Any], model_config: Any, model_dir: Path | str | None,
                  problems: list[str], warnings: list[str]) -> None:
    """The adapter's recorded base model (when it is a folder here) against the loaded one."""
    recorded = str(config.get("base_model_name_or_path") or "")
    if not recorded or model_config is None:
        return
    same_path = model_dir is not None and _same_path(recorded, model_dir)
    base_config_file = Path(recorded).expanduser() / "config.json"
    if same_path or not base_config_file.is_file():
        if not same_path and model_dir is not None:
            warnings.append(f"the adapter was trained on {recorded}, not on {model_dir}; its "
                            "layers and shapes match, but check the answers")
        return
    trained_on = json.loads(base_config_file.read_text(encoding="utf-8"))
    loaded = model_config.to_dict() if hasattr(model_config, "to_dict") else {}
    arch_then = trained_on.get("architectures") or []
    arch_now = loaded.get("architectures") or []
    if arch_then and arch_now and arch_then != arch_now:
        problems.append(f"architecture {', '.join(arch_then)} (trained) vs "
                        f"{', '.join(arch_now)} (loaded)")
    for key in _SHAPE_KEYS:
        if key in trained_on and key in loaded and trained_on[key] != loaded[key]:
            problems.append(f"{key} {trained_on[key]} (trained on {recorded}) vs "
                            f"{loaded[key]} (loaded)")
    if not problems:
        warnings.append(f"the adapter was trained on {recorded}, not on {model_dir}; same "
                        "architecture and shapes, so it is loaded")


def _same_path(a: str, b: Path | str) -> bool:
    try:
        return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()
    except OSError:
        return str(a) == str(b)


def _compare_modules(header: dict[str, Any], base: Any, config: dict[str, Any],
                     problems: list[str]) -> None:
    """Every LoRA weight must sit on a module of the model with matching sizes, and the
    adapter must cover the same layers as the model has (unless it chose layers itself)."""
    modules = dict(base.named_modules())
    adapter_layers: set[int] = set()
    targets: set[str] = set()
    missing: list[str] = []
    shapes: list[str] = []
    for key, meta in header.items():
        if key == "__metadata__" or not _LORA_SUFFIX.search(key):
            continue
        name = _LORA_SUFFIX.sub("", key).removeprefix("base_model.model.")
        layer = _LAYER.search(f".{name}.")
        if layer:
            adapter_layers.add(int(layer.group(1)))
        targets.add(name.rsplit(".", 1)[-1])
        module = modules.get(name)
        if module is None:
            missing.append(name)
            continue
        shape = list(meta.get("shape") or [])
        want_in, want_out = getattr(module, "in_features", None), getattr(module, "out_features",
                                                                          None)
        if ".lora_A." in key and len(shape) == 2 and want_in is not None and shape[1] != want_in:
            shapes.append(f"{name} takes {shape[1]} inputs in the adapter, {want_in} here")
        if ".lora_B." in key and len(shape) == 2 and want_out is not None \
                and shape[0] != want_out:
            shapes.append(f"{name} gives {shape[0]} outputs in the adapter, {want_out} here")
    if missing:
        problems.append(f"{len(missing)} adapted module(s) not in the model, e.g. {missing[0]}")
    if shapes:
        problems.append(f"{len(shapes)} shape mismatch(es), e.g. {shapes[0]}")
    model_layers = {int(m.group(1)) for name in modules
                    if (m := _LAYER.search(f".{name}.")) and name.rsplit(".", 1)[-1] in targets}
    if config.get("layers_to_transform") is None and adapter_layers and model_layers \
            and adapter_layers != model_layers:
        problems.append(f"the adapter covers layers {_span(adapter_layers)} "
                        f"({len(adapter_layers)}), the model has layers {_span(model_layers)} "
                        f"({len(model_layers)})")


def _span(layers: set[int]) -> str:
    low, high = min(layers), max(layers)
    return f"{low}-{high}" if len(layers) == high - low + 1 else ", ".join(map(str, sorted(layers)))
