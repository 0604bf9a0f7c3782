"""What a model folder holds, read from config.json and the safetensors headers alone: no
weights are loaded, so the window can show it instantly even for a 70B model."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llamahome_gui.core.models.starter import STARTER_NAME
from llamahome_gui.core.units import fmt_bytes

# bytes per element of the safetensors dtypes
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
               "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
_TORCH_NAMES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64",
                "I8": "int8", "U8": "uint8", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2"}
_NOT_LINEAR = ("embed", "lm_head", "wte", "wpe", "norm", "rotary", "score")


class ModelInfoError(ValueError):
    """The folder is not a readable model folder; the message says what is missing."""


@dataclass
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass
class ModelInfo:
    folder: Path
    name: str
    architecture: str
    model_type: str
    parameters: int
    layers: int
    hidden_size: int
    intermediate_size: int
    attention_heads: int
    kv_heads: int
    head_dim: int
    vocab_size: int
    max_context: int
    dtype: str
    """Storage dtype of the weights (the most common one in the safetensors files)."""
    size_on_disk: int
    chat_template: bool
    tied_embeddings: bool
    is_starter: bool = False
    weight_files: list[str] = field(default_factory=list)
    tensors: list[TensorInfo] = field(default_factory=list, repr=False)

    def linear_layers(self) -> dict[str, tuple[int, int]]:
        """Linear layer name (e.g. ``q_proj``) -> (in_features, out_features), output head and
        embeddings excluded: what LoRA's ``all-linear`` adapts."""
        found: dict[str, tuple[int, int]] = {}
        for t in self.tensors:
            if len(t.shape) != 2 or not t.name.endswith(".weight"):
                continue
            short = t.name[:-len(".weight")].rsplit(".", 1)[-1]
            if any(word in short for word in _NOT_LINEAR):
                continue
            found.setdefault(short, (t.shape[1], t.shape[0]))
        return found

    def linear_shapes(self) -> list[tuple[str, int, int]]:
        """Every linear weight as (short name, in, out), one entry per layer instance."""
        out = []
        for t in self.tensors:
            if len(t.shape) == 2 and t.name.endswith(".weight"):
                short = t.name[:-len(".weight")].rsplit(".", 1)[-1]
                if not any(word in short for word in _NOT_LINEAR):
                    out.append((short, t.shape[1], t.shape[0]))
        return out

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs as the CLI and the GUI show them."""
        return [
            ("Folder", str(self.folder)),
            ("Name", self.name + ("  (bundled starter model)" if self.is_starter else "")),
            ("Architecture", f"{self.architecture} ({self.model_type})"),
            ("Parameters", f"{human_count(self.parameters)} ({self.parameters:,})"),
            ("Layers", str(self.layers)),
            ("Hidden size", str(self.hidden_size)),
            ("MLP size", str(self.intermediate_size)),
            ("Attention heads", f"{self.attention_heads} ({self.kv_heads} key/value)"),
            ("Vocabulary", f"{self.vocab_size:,}"),
            ("Max context", f"{self.max_context:,} tokens"),
            ("Dtype", self.dtype),
            ("Size on disk", fmt_bytes(self.size_on_disk)),
            ("Chat template", "yes" if self.chat_template else "no"),
        ]

    def table(self) -> str:
        width = max(len(label) for label, _ in self.rows())
        return "\n".join(f"{label + ':':<{width + 1}} {value}" for label, value in self.rows())


def human_count(n: int) -> str:
    for unit, size in (("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def read_safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of a .safetensors file (8-byte little-endian length, then JSON)."""
    with open(path, "rb") as fh:
        raw = fh.read(8)
        if len(raw) != 8:
            raise ModelInfoError(f"{path} is not a safetensors file (too short)")
        (length,) = struct.unpack("<Q", raw)
        if length > 100 * 2**20:
            raise ModelInfoError(f"{path} is not a safetensors file (header of {length} bytes)")
        return json.loads(fh.read(length))


def weight_files(folder: Path) -> list[Path]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return [folder / n for n in names]
    single = folder / "model.safetensors"
    return [single] if single.is_file() else sorted(folder.glob("*.safetensors"))


def read_tensors(folder: Path) -> list[TensorInfo]:
    tensors = []
    for path in weight_files(folder):
        if not path.is_file():
            raise ModelInfoError(f"{path.name} is listed in the index but missing from {folder}")
        for name, meta in read_safetensors_header(path).items():
            if name != "__metadata__":
                tensors.append(TensorInfo(name, meta["dtype"], tuple(meta["shape"])))
    return tensors


def _text_config(config: dict[str, Any]) -> dict[str, Any]:
    return {**config, **config["text_config"]} if isinstance(config.get("text_config"), dict) \
        else config


def _has_chat_template(folder: Path) -> bool:
    if (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file():
        return True
    tok = folder / "tokenizer_config.json"
    try:
        return bool(tok.is_file() and json.loads(tok.read_text()).get("chat_template"))
    except (OSError, json.JSONDecodeError):
        return False


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def model_info(folder: str | Path) -> ModelInfo:
    """Architecture, sizes and files of a Hugging Face model folder, without loading it."""
    folder = Path(folder).expanduser()
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ModelInfoError(f"{folder} is not a model folder: no config.json inside")
    try:
        raw = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelInfoError(f"{config_path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    cfg = _text_config(raw)
    tensors = read_tensors(folder)
    if not tensors:
        has_bin = any(folder.glob("*.bin"))
        raise ModelInfoError(f"{folder} holds no .safetensors weights" + (
            " (only pickle .bin files, which are not loaded for safety; convert them to "
            "safetensors)" if has_bin else ""))
    counts: dict[str, int] = {}
    for t in tensors:
        counts[t.dtype] = counts.get(t.dtype, 0) + t.numel
    main_dtype = max(counts, key=counts.get)  # type: ignore[arg-type]
    hidden = int(cfg.get("hidden_size") or cfg.get("n_embd") or 0)
    heads = int(cfg.get("num_attention_heads") or cfg.get("n_head") or 0)
    return ModelInfo(
        folder=folder,
        name=folder.name,
        architecture=(raw.get("architectures") or ["unknown"])[0],
        model_type=str(raw.get("model_type", "unknown")),
        parameters=sum(t.numel for t in tensors),
        layers=int(cfg.get("num_hidden_layers") or cfg.get("n_layer") or 0),
        hidden_size=hidden,
        intermediate_size=int(cfg.get("intermediate_size") or cfg.get("n_inner") or 4 * hidden),
        attention_heads=heads,
        kv_heads=int(cfg.get("num_key_value_heads") or heads),
        head_dim=int(cfg.get("head_dim") or (hidden // heads if heads else 0)),
        vocab_size=int(cfg.get("vocab_size") or 0),
        max_context=int(cfg.get("max_position_embeddings") or cfg.get("n_positions") or 0),
        dtype=_TORCH_NAMES.get(main_dtype, main_dtype.lower()),
        size_on_disk=folder_size(folder),
        chat_template=_has_chat_template(folder),
        tied_embeddings=bool(cfg.get("tie_word_embeddings", raw.get("tie_word_embeddings", True))),
        is_starter=(folder / "llamahome_starter.json").is_file() or folder.name == STARTER_NAME,
        weight_files=[p.name for p in weight_files(folder)],
        tensors=tensors,
    )


@dataclass
class ModelEntry:
    """One row of the models list; ``info`` is None when the folder is not usable (``error``)
    or the starter model is not imported yet."""

    folder: Path
    info: ModelInfo | None = None
    error: str = ""
    is_starter: bool = False

    def line(self) -> str:
        mark = "  [starter]" if self.is_starter else ""
        if self.info:
            i = self.info
            return (f"{self.folder.name}{mark}  {i.architecture}, {human_count(i.parameters)} "
                    f"params, {i.dtype}, {fmt_bytes(i.size_on_disk)}  {self.folder}")
        return f"{self.folder.name}{mark}  ({self.error})"


def list_models(models_dir: Path) -> list[ModelEntry]:
    """The model folders in ``models_dir``, the starter model first (even before its import)."""
    from llamahome_gui.core.models.starter import is_imported, starter_dir

    entries: list[ModelEntry] = []
    starter = starter_dir(models_dir)
    if not is_imported(models_dir):
        entries.append(ModelEntry(starter, error="not imported yet: run `llamahome models "
                                  "import-starter`", is_starter=True))
    children = sorted(models_dir.iterdir()) if models_dir.is_dir() else []
    for folder in children:
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        if not (folder / "config.json").is_file():
            continue
        try:
            info = model_info(folder)
            entry = ModelEntry(folder, info, is_starter=info.is_starter)
        except (ModelInfoError, OSError, ValueError) as exc:
            entry = ModelEntry(folder, error=str(exc), is_starter=folder == starter)
        entries.insert(0, entry) if folder == starter else entries.append(entry)
    return entries
