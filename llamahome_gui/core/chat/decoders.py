"""Which stepper answers: the engine's set of decoders for one loaded model.

The base model's decoder is built while loading (packing float16 / int8 weights takes about
a second per 100M parameters); it is not swapped in later from a background thread, so the
same question gets the same greedy answer throughout a session. An adapter's decoder is
built when the adapter is picked: only the layers the adapter changes are merged and packed,
the rest is shared with the base. The base and the active adapter stay ready (A/B needs
both); other adapters' are dropped.
"""

from __future__ import annotations

import threading
from contextlib import nullcontext
from typing import Any

from llamahome_gui.core.chat.decode import ModelStepper, Stepper


def default_precision() -> str:
    """float16 weights where the fp16 GEMV kernels exist (x86 with fbgemm): measured at 99.8 %
    top-1 agreement with float32 and 1.3-1.5x its decode speed (bench/README.md, chat);
    float32 elsewhere. int8 is faster still but agrees on only ~84 % of tokens: opt-in."""
    import torch

    if any(e in torch.backends.quantized.supported_engines for e in ("x86", "fbgemm")):
        return "float16"
    return "float32"


class DecoderSet:
    """Steppers for one model: per adapter folder ("" = base), at the engine's precision."""

    def __init__(self, model: Any, precision: str) -> None:
        self._model = model
        self.precision = precision
        self._decoders: dict[tuple[str, str], Any] = {}  # (adapter key, precision) -> decoder
        self._kernels: dict[Any, Any] = {}  # packed weights shared by the decoders
        self._lock = threading.Lock()
        self.unsupported = ""  # why the llama decoder does not fit ("" = it does)
        self._generic: set[str] = set()  # adapters the llama decoder cannot merge

    def set_model(self, model: Any) -> None:
        """The model object changed (the first adapter wraps it in a PeftModel)."""
        self._model = model

    def start(self) -> None:
        """Build the base model's decoder (or find that the model needs the generic path)."""
        self._build("", self.precision)

    def forget(self, key: str) -> None:
        """Drop an adapter's decoders (its weights changed on disk)."""
        self._generic.discard(key)
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
        self._model = None

    def path(self) -> str:
        if self.unsupported:
            return f"generic ({self.unsupported})"
        return f"llama/{self.precision}"

    def stepper(self, key: str, context: Any = nullcontext) -> Stepper:
        """The decoder for adapter ``key`` ("" = base); an adapter's is built on first use (its
        peft adapter must be the active one). ``context`` wraps the generic path's forward."""
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
