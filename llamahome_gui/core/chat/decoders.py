"""Which stepper answers: the engine's set of decoders for one loaded model.

Two engines. llama.cpp (``decode_gguf``, when llama-cpp-python is installed and the model is
one the GGUF writer knows): the model converted once to a GGUF file, adapters as GGUF LoRA
files set on the same context. torch (``decode_llama``): our batch-1 decoder with float16 /
int8 packed weights, or the model's own forward for other architectures. The engine is
picked while loading and not swapped later from a background thread, so the same question
gets the same greedy answer throughout a session; when the llama.cpp process dies, later
answers come from torch and ``path()`` says why.

torch: the base model's decoder is built while loading (packing takes about a second per
100M parameters); an adapter's when the adapter is picked, merging and packing only the
layers it changes. The base and the active adapter stay ready (A/B needs both).
"""

from __future__ import annotations

import threading
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from llamahome_gui.core.chat.decode import ModelStepper, Stepper

ENGINES = ("auto", "torch", "llama.cpp")


def default_precision() -> str:
    """float16 weights where the fp16 GEMV kernels exist (x86 with fbgemm): measured at 99.8 %
    top-1 agreement with float32 and 1.3-1.5x its decode speed (bench/README.md, chat);
    float32 elsewhere. int8 is faster still but agrees on only ~84 % of tokens: opt-in."""
    import torch

    if any(e in torch.backends.quantized.supported_engines for e in ("x86", "fbgemm")):
        return "float16"
    return "float32"


def llama_cpp_unusable(model_dir: Path, device: str, dtype: str) -> str:
    """"" when the llama.cpp engine can answer for this model, else why not (one phrase)."""
    from llamahome_gui.core.chat.decode_gguf import llama_cpp_missing
    from llamahome_gui.core.export.errors import UnsupportedModelError
    from llamahome_gui.core.export.gguf_writer import check_exportable

    if not device.startswith("cpu"):
        return f"the model runs on {device}; the llama.cpp engine is used on the CPU only"
    if dtype != "float32":
        return f"the model is loaded as {dtype}; the llama.cpp engine converts float32 weights"
    missing = llama_cpp_missing()
    if missing:
        return missing
    try:
        check_exportable(model_dir)
    except UnsupportedModelError as exc:
        return str(exc).split(";")[0]
    return ""


def choose_engine(asked: str, precision: str, model_dir: Path, device: str,
                  dtype: str) -> tuple[str, str]:
    """(engine, why llama.cpp cannot answer) for ``inference.chat.decode_engine`` = ``asked``:
    the chat engine and the server both decide here. "torch" is torch, and so is float32 with
    "auto" (the exact answers), both with no reason; otherwise llama.cpp unless
    :func:`llama_cpp_unusable` gives the reason. Callers refuse an explicit "llama.cpp" that
    comes back as torch."""
    if asked == "torch" or (asked == "auto" and precision == "float32"):
        return "torch", ""
    why = llama_cpp_unusable(model_dir, device, dtype)
    return ("torch", why) if why else ("llama.cpp", "")


class DecoderSet:
    """Steppers for one model: per adapter folder ("" = base), at the engine's precision."""

    def __init__(self, model: Any, precision: str, *, engine: str = "torch",
                 model_dir: Path | None = None, threads: int = 1, context: int = 2048,
                 gguf_type: str = "f16") -> None:
        self._model = model
        self.precision = precision
        self.engine = engine  # "torch" or "llama.cpp" (resolved by the chat engine)
        self._model_dir = Path(model_dir) if model_dir else None
        self._threads, self._context, self.gguf_type = threads, context, gguf_type
        self._process: Any = None  # LlamaCppProcess
        self._gguf_steppers: dict[str, Any] = {}
        self.fallback = ""  # why llama.cpp stopped answering ("" = it did not)
        self._decoders: dict[tuple[str, str], Any] = {}  # (adapter key, precision) -> decoder
        self._kernels: dict[Any, Any] = {}  # packed weights shared by the decoders
        self._lock = threading.Lock()
        self.unsupported = ""  # why the llama decoder does not fit ("" = it does)
        self._generic: set[str] = set()  # adapters the llama decoder cannot merge
        self.notes: dict[str, str] = {}  # adapter key -> why it runs on torch under llama.cpp

    def set_model(self, model: Any) -> None:
        """The model object changed (the first adapter wraps it in a PeftModel)."""
        self._model = model

    def start(self, progress: Any = None) -> None:
        """Start the llama.cpp process (converting the model on first use), or build the torch
        base decoder (or find that the model needs the generic path)."""
        if self.engine == "llama.cpp":
            from llamahome_gui.core.chat.decode_gguf import LlamaCppProcess
            from llamahome_gui.core.chat.gguf_files import model_gguf

            path = model_gguf(self._model_dir, self.gguf_type, progress)
            (progress or (lambda _m: None))("Starting llama.cpp…")
            from llamahome_gui.core.models.loading import usable_cores

            self._process = LlamaCppProcess(path, threads=self._threads, n_ctx=self._context,
                                            gguf_type=self.gguf_type,
                                            batch_threads=max(self._threads, usable_cores()))
            return
        self._build("", self.precision)

    def forget(self, key: str) -> None:
        """Drop an adapter's decoders (its weights changed on disk)."""
        self._generic.discard(key)
        self._gguf_steppers.pop(key, None)
        self.notes.pop(key, None)
        with self._lock:
            for k in [k for k in self._decoders if k[0] == key]:
                del self._decoders[k]

    def keep_only(self, active: str) -> None:
        with self._lock:
            for k in [k for k in self._decoders if k[0] not in ("", active)]:
                del self._decoders[k]

    def clear(self) -> None:
        with self._lock:
            self._decoders.clear()
            self._kernels.clear()
        self._gguf_steppers.clear()
        if self._process is not None:
            self._process.close()
            self._process = None
        self._model = None

    def pids(self) -> list[int]:
        """The decoder's own processes (the llama.cpp one, while it runs)."""
        return [self._process.pid] if self._process is not None and self._process.alive else []

    def path(self, key: str = "") -> str:
        if self._llama_live():
            note = self.notes.get(key)
            if note is None:
                return f"llama.cpp/{self.gguf_type}"
            return f"{self._torch_path()} (adapter: {note})"
        if self.fallback:
            return f"{self._torch_path()} ({self.fallback})"
        return self._torch_path()

    def _torch_path(self) -> str:
        if self.unsupported:
            return f"generic ({self.unsupported})"
        return f"llama/{self.precision}"

    def _llama_live(self) -> bool:
        if self._process is None:
            return False
        if self._process.alive:
            return True
        self.fallback = f"{self._process.death_note()}; answering with torch"
        self._process.close()
        self._process = None
        self._gguf_steppers.clear()
        return False

    def stepper(self, key: str, context: Any = nullcontext) -> Stepper:
        """The decoder for adapter ``key`` ("" = base); an adapter's is built on first use (its
        peft adapter must be the active one). ``context`` wraps the generic path's forward."""
        if self._llama_live() and key not in self.notes:
            found = self._gguf_steppers.get(key)
            if found is not None:
                return found
            built = self._gguf_stepper(key)
            if built is not None:
                return built
        return self._torch_stepper(key, context)

    def _gguf_stepper(self, key: str) -> Any:
        from llamahome_gui.core.chat.decode_gguf import DecoderStopped, GgufStepper
        from llamahome_gui.core.chat.gguf_files import adapter_gguf
        from llamahome_gui.core.export.errors import UnsupportedModelError

        if not key:
            stepper = GgufStepper(self._process)
        else:
            try:
                stepper = GgufStepper(self._process,
                                      self._process.lora(adapter_gguf(Path(key), self._model_dir)))
            except (UnsupportedModelError, DecoderStopped) as exc:
                self.notes[key] = str(exc)
                return None
        self._gguf_steppers[key] = stepper
        return stepper

    def _torch_stepper(self, key: str, context: Any) -> Stepper:
        if self.unsupported:
            return ModelStepper(self._model, context)
        with self._lock:
            found = self._decoders.get((key, self.precision))
        if found is not None:
            return found
        built = None if key in self._generic else self._build(key, self.precision)
        if built is None:
            self._generic.add(key)
            return ModelStepper(self._model, context)
        return built

    def _build(self, key: str, precision: str) -> Any:
        from llamahome_gui.core.chat.decode_llama import LlamaDecoder, UnsupportedModel

        try:
            decoder = LlamaDecoder(self._model, precision, with_adapter=bool(key),
                                   shared=self._kernels)
        except UnsupportedModel as exc:
            if not key:
                self.unsupported = str(exc)
            return None
        with self._lock:
            self._decoders[(key, precision)] = decoder
        return decoder
