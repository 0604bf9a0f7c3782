"""The chat engine: one loaded base model, any number of PEFT adapters on top of it.

Switching adapter never reloads the base weights: the first adapter wraps the model in a
``PeftModel``, later ones are added with ``load_adapter`` and picked with ``set_adapter``.
Answers come from our own decode loop (``core.chat.decode``): on a CPU, llama-family models
run through ``LlamaDecoder`` with the active adapter merged into its own copy of the touched
weights (the base and the last adapter stay ready, so A/B does not rebuild); anything else
runs the model's forward, the base inside ``disable_adapter()``. No Qt here: the CLI, the
worker, the server and the tests drive the same object.
"""

from __future__ import annotations

import gc
import os
import threading
import time
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llamahome_gui.core.chat.decode import DecodeRequest, Stepper
from llamahome_gui.core.chat.decode_llama import PRECISIONS
from llamahome_gui.core.chat.decoders import ENGINES, DecoderSet, choose_engine, default_precision
from llamahome_gui.core.chat.prompt import PreparedPrompt, fit_to_context
from llamahome_gui.core.chat.settings import GenerationSettings
from llamahome_gui.core.chat.streaming import ChatStream, GenerationStats, eos_ids

Progress = Callable[[str], None]


class ChatEngineError(RuntimeError):
    """Something the user can fix (no model loaded, a bad adapter folder); the message says how."""


@dataclass(frozen=True)
class LoadInfo:
    model_dir: str
    adapter_dir: str
    device: str
    dtype: str
    parameters: int
    context_limit: int
    seconds: float
    decode: str = ""  # how answers are computed, e.g. "llama/int8" or "generic"

    @property
    def model_name(self) -> str:
        return Path(self.model_dir).name


@dataclass(frozen=True)
class UnloadInfo:
    rss_before: int
    rss_after: int

    @property
    def freed_bytes(self) -> int:
        return max(0, self.rss_before - self.rss_after)


@dataclass(frozen=True)
class ABResult:
    """One question answered by the base model (A) and by the adapter (B)."""

    base_text: str
    base_stats: GenerationStats
    adapter_text: str
    adapter_stats: GenerationStats


def process_rss(*others: int) -> int:
    """Resident memory of this process plus the processes ``others`` (the llama.cpp decoder's)."""
    import psutil

    total = 0
    for pid in (os.getpid(), *others):
        try:
            total += psutil.Process(pid).memory_info().rss
        except psutil.Error:  # ended meanwhile
            pass
    return total


def _release_freed_heap() -> None:
    """Hand freed heap pages back to the OS so the RSS drop is real (glibc keeps them)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def adapter_weights_file(folder: Path) -> Path:
    """The adapter's safetensors file; a clear error for anything else (never unpickle)."""
    if not (folder / "adapter_config.json").is_file():
        raise ChatEngineError(f"{folder} is not a PEFT adapter folder (no adapter_config.json); "
                              "pick a run's 'adapter' folder")
    weights = folder / "adapter_model.safetensors"
    if not weights.is_file():
        raise ChatEngineError(f"{folder} has no adapter_model.safetensors; only safetensors adapters "
                              "are loaded (re-save it with save_pretrained(safe_serialization=True))")
    return weights


class ChatEngine:
    """Load, chat, switch adapters, compare, unload. Not thread-safe: one owner thread calls
    everything except :meth:`stop`, which any thread may call."""

    def __init__(self) -> None:
        self._model: Any = None
        self._tokenizer: Any = None
        self._info: LoadInfo | None = None
        self._adapters: dict[str, tuple[str, float]] = {}  # folder -> (peft name, weights mtime)
        self._active: str = ""  # folder of the active adapter; "" = base model
        self._stop = threading.Event()
        self._stream: ChatStream | None = None
        self._decoders: DecoderSet | None = None

    # ------------------------------------------------------------------ loading

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def info(self) -> LoadInfo | None:
        return self._info

    @property
    def adapter(self) -> str:
        """Folder of the active adapter, "" when the base model answers."""
        return self._active

    @property
    def tokenizer(self) -> Any:
        return self._tokenizer

    @property
    def model(self) -> Any:
        return self._model

    def load(self, model_dir: str | Path | None = None, *, device: str = "auto",
             dtype: str = "auto", adapter: str | Path | None = None,
             trust_remote_code: bool = False, max_sequence_length: int | None = None,
             decode_precision: str = "auto", decode_engine: str = "auto",
             progress: Progress | None = None) -> LoadInfo:
        """Load the model folder (empty: the starter model) and optionally an adapter.

        ``decode_precision``: how the CPU decoder holds the weights (``core.chat.decode_llama``
        PRECISIONS); "auto" picks :func:`default_precision`. ``decode_engine``: "llama.cpp"
        (a GGUF copy answered by llama.cpp, ``core.chat.decode_gguf``), "torch", or "auto" =
        llama.cpp where it is installed and fits the model, else torch.
        """
        from transformers.utils import logging as hf_logging

        from llamahome_gui.core.models.loading import (
            load_model_and_tokenizer,
            pick_device,
            pick_dtype,
            resolve_model_dir,
        )

        hf_logging.disable_progress_bar()  # progress goes through ``progress``, not stderr
        say = progress or (lambda _m: None)
        precision = default_precision() if decode_precision == "auto" else decode_precision
        if precision not in PRECISIONS:
            raise ChatEngineError(f"decode precision {decode_precision!r} is unknown; use auto or "
                                  f"one of {', '.join(PRECISIONS)} (inference.chat.decode_precision)")
        if decode_engine not in ENGINES:
            raise ChatEngineError(f"decode engine {decode_engine!r} is unknown; use one of "
                                  f"{', '.join(ENGINES)} (inference.chat.decode_engine)")
        started = time.perf_counter()
        if self.loaded:
            self.unload()
        folder = resolve_model_dir(model_dir or "", progress=say)
        device_name = pick_device(device)
        torch_dtype = pick_dtype(dtype, device_name)
        say(f"Loading {folder.name} on {device_name}…")
        model, tokenizer = load_model_and_tokenizer(folder, device=device_name, dtype=torch_dtype,
                                                    trust_remote_code=trust_remote_code)
        model.eval()
        self._model, self._tokenizer = model, tokenizer
        limit = int(getattr(model.config, "max_position_embeddings", 0) or 0) or 2048
        if max_sequence_length:
            limit = min(limit, int(max_sequence_length))
        self._info = LoadInfo(str(folder), "", device_name, str(torch_dtype).replace("torch.", ""),
                              sum(p.numel() for p in model.parameters()), limit, 0.0)
        if str(torch_dtype) != "torch.float32":
            precision = "float32"  # packing starts from float32 weights; keep the model's own
        engine, why = choose_engine(decode_engine, decode_precision, folder, device_name,
                                    self._info.dtype)
        if decode_engine == "llama.cpp" and engine != "llama.cpp":
            self.unload()  # nothing half loaded is left behind
            raise ChatEngineError(f"the llama.cpp decode engine cannot answer here: {why}. Set "
                                  "inference.chat.decode_engine = auto or torch")
        import torch

        from llamahome_gui.core.chat.decode_gguf import GGUF_TYPES

        self._decoders = DecoderSet(model, precision, engine=engine, model_dir=folder,
                                    threads=torch.get_num_threads(), context=limit,
                                    gguf_type=GGUF_TYPES[decode_precision])
        say("Preparing the decoder…")
        try:
            self._decoders.start(say)  # converted / packed now, not in the first answer
        except Exception as exc:
            if engine != "llama.cpp" or decode_engine == "llama.cpp":
                self.unload()
                raise ChatEngineError(f"the {engine} decoder could not start: {exc}. Set "
                                      "inference.chat.decode_engine = torch to chat without it"
                                      ) from exc
            say(f"warning: llama.cpp could not start ({exc}); answering with torch")
            self._decoders = DecoderSet(model, precision)
            self._decoders.fallback = f"llama.cpp could not start: {exc}"
            self._decoders.start()
        if adapter:
            self.set_adapter(adapter, progress=say)
        self._info = LoadInfo(str(folder), self._active, device_name, self._info.dtype,
                              self._info.parameters, limit, time.perf_counter() - started,
                              self.decode_path)
        say(f"{folder.name} ready")
        return self._info

    def unload(self) -> UnloadInfo:
        """Drop the model and every adapter; RSS before and after (and the GPU cache emptied)."""
        self.stop()
        if self._stream is not None:
            self._stream.wait_quietly()
        before = process_rss(*(self._decoders.pids() if self._decoders is not None else ()))
        on_gpu = bool(self._info and self._info.device.startswith("cuda"))
        if self._decoders is not None:
            self._decoders.clear()
        self._model = self._tokenizer = self._info = self._stream = self._decoders = None
        self._adapters.clear()
        self._active = ""
        gc.collect()
        if on_gpu:
            import torch

            torch.cuda.empty_cache()
        _release_freed_heap()
        return UnloadInfo(before, process_rss())

    # ----------------------------------------------------------------- adapters

    def set_adapter(self, folder: str | Path | None, progress: Progress | None = None) -> str:
        """Answer with this adapter (None/"" = the base model). Loads it once, keeps the base."""
        self._require_loaded()
        if not folder or not str(folder).strip():
            self._select("")
            return ""
        path = Path(folder).expanduser().resolve()
        if not path.is_dir():
            raise ChatEngineError(f"adapter folder {path} does not exist; pick a run's 'adapter' "
                                  "folder or clear inference.chat.adapter_path")
        mtime = adapter_weights_file(path).stat().st_mtime
        key = str(path)
        known = self._adapters.get(key)
        if known is None or known[1] != mtime:  # new, or retrained in place since loaded
            name = f"adapter_{len(self._adapters)}_{int(time.time() * 1000) % 100000}"
            (progress or (lambda _m: None))(f"Loading adapter {path.parent.name}/{path.name}…")
            self._check_fit(path, progress)
            self._attach(path, name)
            if known is not None:
                self._model.delete_adapter(known[0])
            self._adapters[key] = (name, mtime)
        self._model.set_adapter(self._adapters[key][0])
        self._decoders.set_model(self._model)
        if known is not None and known[1] != mtime:
            self._decoders.forget(key)  # its merged weights are stale
        self._select(key)
        self._stepper(True)  # merge and pack now (part of "Loading adapter"), not in the answer
        return key

    def _check_fit(self, path: Path, progress: Progress | None) -> None:
        """Refuse an adapter trained on another model (see core.models.adapter_fit)."""
        from llamahome_gui.core.models.adapter_fit import AdapterMismatchError, check_adapter_fits

        try:
            notes = check_adapter_fits(self._model, path, self._info.model_dir if self._info
                                       else None)
        except AdapterMismatchError as exc:
            raise ChatEngineError(str(exc)) from None
        for note in notes:
            (progress or (lambda _m: None))(f"warning: {note}")

    def _select(self, key: str) -> None:
        """Keep the base's and the new active adapter's decoders; drop other adapters'."""
        self._active = key
        self._decoders.keep_only(key)

    def _attach(self, path: Path, name: str) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # library deprecations
                from peft import PeftModel

                if isinstance(self._model, PeftModel):
                    self._model.load_adapter(str(path), adapter_name=name)
                else:
                    self._model = PeftModel.from_pretrained(self._model, str(path),
                                                            adapter_name=name)
            self._model.eval()
        except (RuntimeError, ValueError, KeyError) as exc:
            base = self._info.model_dir if self._info else "?"
            raise ChatEngineError(f"adapter {path} does not fit the model {base}: {exc}. Load the "
                                  "base model the adapter was trained on (model.model.path)") from exc

    # --------------------------------------------------------------- generation

    def prepare(self, system_prompt: str, turns: list[dict[str, str]],
                settings: GenerationSettings) -> PreparedPrompt:
        """Render and fit the conversation (oldest turns dropped when it is too long)."""
        self._require_loaded()
        return fit_to_context(self._tokenizer, system_prompt, turns,
                              context_limit=self._info.context_limit,
                              max_new_tokens=settings.max_new_tokens)

    def stream(self, system_prompt: str, turns: list[dict[str, str]],
               settings: GenerationSettings, *, use_adapter: bool | None = None,
               prepared: PreparedPrompt | None = None, stop: threading.Event | None = None,
               seed: int | None = None, min_new_tokens: int = 0) -> ChatStream:
        """Start answering the last user turn; iterate the result for the text.

        ``use_adapter=False`` answers with the base model even when an adapter is active.
        Per request (the server): ``stop`` is this answer's own Stop flag (default: the
        engine's, which :meth:`stop` sets), ``seed`` makes sampling repeatable,
        ``min_new_tokens`` forbids end-of-sequence before that many tokens.
        """
        self._require_loaded()
        prepared = prepared or self.prepare(system_prompt, turns, settings)
        with_adapter = bool(self._active) and use_adapter is not False
        if stop is None:
            stop = self._stop
            stop.clear()
        request = DecodeRequest.from_settings(settings, min_new_tokens=min_new_tokens, seed=seed)
        self._stream = ChatStream(self._stepper(with_adapter), self._tokenizer, prepared, request,
                                  stop, eos_ids=eos_ids(self._model, self._tokenizer),
                                  adapter_label=self._active if with_adapter else "",
                                  device=self._info.device)
        return self._stream

    def chat(self, system_prompt: str, turns: list[dict[str, str]], settings: GenerationSettings,
             *, use_adapter: bool | None = None) -> tuple[str, GenerationStats]:
        """The whole answer at once (tests, scripts)."""
        stream = self.stream(system_prompt, turns, settings, use_adapter=use_adapter)
        text = stream.wait()
        return text, stream.stats

    def compare(self, system_prompt: str, turns: list[dict[str, str]],
                settings: GenerationSettings) -> ABResult:
        """The same question answered with the adapter disabled, then enabled."""
        if not self._active:
            raise ChatEngineError("A/B needs an adapter: pick one (inference.chat.adapter_path)")
        base_text, base_stats = self.chat(system_prompt, turns, settings, use_adapter=False)
        text, stats = self.chat(system_prompt, turns, settings, use_adapter=True)
        return ABResult(base_text, base_stats, text, stats)

    def stop(self) -> None:
        """Ask the running answer to end after its current token (any thread)."""
        self._stop.set()

    @property
    def decode_path(self) -> str:
        """How answers are computed now: "llama.cpp/<type>", "llama/<precision>" or
        "generic (<why>)", with why llama.cpp is not answering where it was meant to."""
        return self._decoders.path(self._active) if self._decoders is not None else ""

    def base_stepper(self) -> Stepper:
        """What answers for the base model now (benchmarks feed it tokens directly)."""
        self._require_loaded()
        return self._stepper(False)

    def _stepper(self, with_adapter: bool) -> Stepper:
        """The decoder for the base or the active adapter (see ``core.chat.decoders``)."""
        key = self._active if with_adapter else ""
        context = self._base_context if self._adapters and not key else nullcontext
        return self._decoders.stepper(key, context)

    def _base_context(self) -> Any:
        return self._model.disable_adapter()

    def _require_loaded(self) -> None:
        if not self.loaded:
            raise ChatEngineError("no model is loaded; load one first (model.model.path, empty = "
                                  "the bundled starter model)")
