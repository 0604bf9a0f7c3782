"""Resolve which model folder, device and dtype a config asks for, and load it safely."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any


class ModelNotFoundError(FileNotFoundError):
    """The configured model folder is missing or not a model; the message says how to fix it."""


class ModelFileError(ValueError):
    """A model folder's files are broken or incomplete (empty or truncated weights, no
    tokenizer): the user's files, not a bug; the message names the file and the fix."""


TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt",
                   "tiktoken.model")
_REFETCH = "download or convert the model again"


def check_tokenizer_files(folder: Path) -> None:
    """Refuse a folder without any tokenizer file (transformers would suggest installing
    sentencepiece, which does not help)."""
    if not any((folder / name).is_file() for name in TOKENIZER_FILES) \
            and not any(folder.glob("*.tiktoken")):
        raise ModelFileError(f"{folder} has no tokenizer files ({' or '.join(TOKENIZER_FILES[:2])}"
                             "); copy them from the model's original folder")


def read_safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file (tensor names, shapes, offsets), read without
    the weights; an empty, cut-off or foreign file raises :class:`ModelFileError`."""
    size = path.stat().st_size
    name = f"{path.name} in {path.parent}"
    if size == 0:
        raise ModelFileError(f"{name} is empty (0 bytes); {_REFETCH}")
    with path.open("rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise ModelFileError(f"{name} is truncated ({size} bytes, not even a header); "
                                 f"{_REFETCH}")
        (header_len,) = struct.unpack("<Q", head)
        if header_len > size - 8:
            raise ModelFileError(f"{name} is truncated ({size} bytes; its header alone needs "
                                 f"{header_len + 8}); {_REFETCH}")
        try:
            header = json.loads(fh.read(header_len))
        except (ValueError, UnicodeDecodeError):
            header = None
    if not isinstance(header, dict):
        raise ModelFileError(f"{name} is not a safetensors file (unreadable header); {_REFETCH}")
    ends = [t["data_offsets"][1] for k, t in header.items()
            if k != "__metadata__" and isinstance(t, dict) and "data_offsets" in t]
    needed = 8 + header_len + max(ends, default=0)
    if size < needed:
        raise ModelFileError(f"{name} is truncated ({size} bytes of {needed}); {_REFETCH}")
    return header


def check_weight_files(folder: Path) -> None:
    """Read each safetensors header (a few bytes) and compare the sizes it promises with
    the file: an empty or cut-off download is named instead of a deserializer error."""
    for path in sorted(folder.glob("*.safetensors")):
        read_safetensors_header(path)


def resolve_model_dir(path: str | Path | None,
                      progress: Callable[[str], None] | None = None) -> Path:
    """The model folder for ``model.model.path``; empty means the bundled starter model
    (imported on first use)."""
    if not path or not str(path).strip():
        from llamahome_gui.core.models.starter import ensure_starter

        return ensure_starter(progress=progress)
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise ModelNotFoundError(
            f"model folder {folder} does not exist; set model.model.path to a Hugging Face model "
            "folder, or leave it empty to use the bundled starter model")
    if not (folder / "config.json").is_file():
        raise ModelNotFoundError(f"{folder} is not a model folder (no config.json inside)")
    return folder


REMOTE_CODE_FLAG = "--trust-remote-code"


def remote_code_allowed(configured: bool, *, flag: bool, trusted_source: bool,
                        source: str) -> tuple[bool, str]:
    """Whether a model's own Python code (``trust_remote_code``) may run: ``(allowed, note)``.

    Only an explicit choice of the user counts: the command's ``--trust-remote-code`` flag,
    or ``trust_remote_code = true`` in their own config folder. The same setting in a
    ``./config`` found in the working folder or in a received run folder's ``run.toml``
    is ignored, with a note saying so (``source`` names where it was set).
    """
    if flag:
        return True, ""
    if not configured:
        return False, ""
    if trusted_source:
        return True, ""
    return False, (f"note: {source} sets model.model.trust_remote_code = true; ignored because "
                   f"you did not choose it for this command (add {REMOTE_CODE_FLAG} to run the "
                   "model's own code)")


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def pick_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"model.model.device is {device!r} but no CUDA GPU is available; "
                           "set it to auto or cpu")
    return device


def pick_dtype(dtype: str, device: str) -> Any:
    import torch

    if dtype == "auto":
        if device.startswith("cuda") and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]


def load_model_and_tokenizer(folder: Path, *, device: str = "cpu", dtype: Any = None,
                             trust_remote_code: bool = False) -> tuple[Any, Any]:
    """Weights from safetensors only (never pickle)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    check_tokenizer_files(folder)
    check_weight_files(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(
        folder, dtype=dtype, use_safetensors=True, trust_remote_code=trust_remote_code)
    model.to(device)
    return model, tokenizer


def load_tokenizer(folder: Path, *, trust_remote_code: bool = False) -> Any:
    """The model's tokenizer alone (dataset checks and previews need no weights)."""
    from transformers import AutoTokenizer

    check_tokenizer_files(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
