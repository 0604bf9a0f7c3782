"""A PEFT LoRA adapter as a GGUF LoRA file, the form llama.cpp applies on top of a base GGUF
(``llama_adapter_lora_init``): ``general.type = "adapter"``, ``adapter.type = "lora"``, and per
adapted weight ``<gguf weight name>.lora_a`` (rank x inputs) and ``.lora_b`` (outputs x rank).

llama.cpp scales ``B·A·x`` by ``adapter.lora.alpha / rank`` when alpha is set and by 1 when it
is 0; each module's own peft scaling (alpha / r, or alpha / sqrt(r) with rsLoRA, patterns
included) is multiplied into its B here and alpha written as 0, so every module keeps its
scale whatever its rank. B's rows of a Q/K projection get the same interleave permutation as
the base weight (``gguf_writer``). What llama.cpp cannot apply (DoRA, trained biases, whole
modules saved beside the adapter, embedding adapters) is refused by name, before writing.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llamahome_gui.core.export.errors import UnsupportedModelError
from llamahome_gui.core.export.gguf_writer import _permute, read_config, tensor_names

_KEY = re.compile(r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<part>[AB])(?:\.[^.]+)?\.weight$")


def _adapter_config(adapter_dir: Path) -> dict[str, Any]:
    path = adapter_dir / "adapter_config.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UnsupportedModelError(f"{adapter_dir} has no adapter_config.json") from None


def _pattern_value(patterns: dict[str, Any], module: str, default: float) -> float:
    """peft's rank/alpha pattern lookup: the first key that is the module's name or its suffix."""
    for key, value in patterns.items():
        if re.fullmatch(rf"(.*\.)?{key}", module):
            return float(value)
    return default


def check_lora_expressible(adapter_dir: Path) -> dict[str, Any]:
    """The adapter's config; UnsupportedModelError naming what llama.cpp's LoRA cannot hold."""
    config = _adapter_config(adapter_dir)
    kind = str(config.get("peft_type", "LORA")).upper()
    why = ""
    if kind != "LORA":
        why = f"it is a {kind} adapter, not LoRA"
    elif config.get("use_dora"):
        why = "it uses DoRA (a learned magnitude per column)"
    elif str(config.get("bias", "none")) != "none":
        why = f"it trains biases (bias = {config.get('bias')!r})"
    elif config.get("modules_to_save"):
        why = f"it saves whole modules beside the adapter ({', '.join(config['modules_to_save'])})"
    elif config.get("fan_in_fan_out"):
        why = "its weights are stored fan-in/fan-out"
    if why:
        raise UnsupportedModelError(f"{adapter_dir.name} cannot be a GGUF LoRA file: {why}")
    return config


def write_lora_gguf(adapter_dir: Path, model_dir: Path, out: Path,
                    progress: Callable[[int, int, str], None] | None = None) -> Path:
    """Write the adapter in ``adapter_dir`` (trained on the model in ``model_dir``) to ``out``.

    Nothing is left at ``out`` unless it succeeds.
    """
    import gguf
    import numpy as np
    from safetensors import safe_open

    adapter_dir, model_dir, out = Path(adapter_dir), Path(model_dir), Path(out)
    config = check_lora_expressible(adapter_dir)
    mapping = tensor_names(read_config(model_dir))
    weights = adapter_dir / "adapter_model.safetensors"
    if not weights.is_file():
        raise UnsupportedModelError(f"{adapter_dir} has no adapter_model.safetensors")

    alpha = float(config.get("lora_alpha", 8))
    rank = float(config.get("r", 8))
    rslora = bool(config.get("use_rslora"))
    pairs: dict[str, dict[str, Any]] = {}
    with safe_open(weights, framework="pt") as fh:
        for key in fh.keys():
            found = _KEY.match(key)
            if found is None:
                raise UnsupportedModelError(f"{adapter_dir.name} cannot be a GGUF LoRA file: its "
                                            f"tensor {key} is not a LoRA A/B matrix")
            pairs.setdefault(found["module"], {})[found["part"]] = fh.get_tensor(key).float()
    if not pairs:
        raise UnsupportedModelError(f"{adapter_dir.name} holds no LoRA weights")

    tensors: list[tuple[str, Any]] = []
    for module, parts in sorted(pairs.items()):
        if set(parts) != {"A", "B"}:
            raise UnsupportedModelError(f"{adapter_dir.name}: {module} lacks its LoRA "
                                        f"{'B' if 'A' in parts else 'A'} matrix")
        target = mapping.names.get_name(f"{module}.weight", try_suffixes=(".weight",))
        if target is None or target.startswith(("token_embd", "output.")):
            raise UnsupportedModelError(f"{adapter_dir.name} cannot be a GGUF LoRA file: it "
                                        f"adapts {module}, which llama.cpp's LoRA does not here")
        a, b = parts["A"].numpy(), parts["B"].numpy()
        r = _pattern_value(config.get("rank_pattern") or {}, module, rank)
        scale = _pattern_value(config.get("alpha_pattern") or {}, module, alpha) / (
            math.sqrt(r) if rslora else r)
        b = b * scale
        if mapping.permute_heads(target):  # B's rows are the weight's rows
            b = _permute(b, mapping.permute_heads(target))
        tensors.append((f"{target}.lora_a", np.ascontiguousarray(a, dtype=np.float32)))
        tensors.append((f"{target}.lora_b", np.ascontiguousarray(b, dtype=np.float32)))

    writer = gguf.GGUFWriter(None, mapping.arch)
    writer.add_type("adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", 0.0)  # scales are inside B (see the module text)
    writer.add_name(adapter_dir.parent.name if adapter_dir.name == "adapter" else adapter_dir.name)
    for name, data in tensors:
        writer.add_tensor_info(name, data.shape, data.dtype, data.nbytes)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        writer.write_header_to_file(path=tmp)
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for done, (name, data) in enumerate(tensors, start=1):
            writer.write_tensor_data(data)
            if progress is not None:
                progress(done, len(tensors), name)
        writer.close()
        os.replace(tmp, out)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    return out
