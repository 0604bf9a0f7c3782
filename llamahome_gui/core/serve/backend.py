"""What the server serves: one model loaded through the chat session, its adapters as model
ids, the generation loop, and the ``inference.serving`` options.

The session loads the base model and every adapter (the same code the Chat page and
``llamahome chat`` use); the loop then runs the requests on that one model.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llamahome_gui.core.chat.prompt import encode, render
from llamahome_gui.core.chat.settings import GenerationSettings
from llamahome_gui.core.chat.setup import ChatSetup
from llamahome_gui.core.serve.jobs import Job, Sampling
from llamahome_gui.core.serve.scheduler import GenerationLoop

LOOPBACK_NAMES = ("localhost",)


class ServeError(ValueError):
    """A setting or argument the user can fix; the message says how."""


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServeOptions:
    """``inference.serving.*`` with command-line overrides laid on top."""

    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str = ""
    max_concurrent_requests: int = 8
    max_queue: int = 32
    request_timeout: float = 300.0
    cors_origins: tuple[str, ...] = ()

    @classmethod
    def from_section(cls, section: Any, **overrides: Any) -> ServeOptions:
        values = {k: getattr(section, k) for k in cls.__dataclass_fields__}
        values["cors_origins"] = tuple(values["cors_origins"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def check(self) -> None:
        """Refuse what would expose the model: any address but loopback needs an api_key."""
        if not self.host.strip():
            raise ServeError("inference.serving.host is empty; set it to 127.0.0.1 (this computer "
                             "only) or pass --host")
        if not is_loopback(self.host) and not self.api_key:
            raise ServeError(
                f"refusing to serve on {self.host} without an API key: anyone on the network could "
                "use the model. Set one (export LLAMAHOME_SERVING_API_KEY=some-long-secret, or "
                "inference.serving.api_key), or serve on 127.0.0.1")

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/v1"


def adapter_spec(text: str) -> tuple[str, Path]:
    """``NAME=DIR`` or ``DIR``; a run folder stands for its ``adapter`` folder, named after the
    run unless a NAME is given."""
    name, sep, folder = text.partition("=")
    if not sep:
        name, folder = "", text
    path = Path(folder).expanduser()
    if (path / "adapter" / "adapter_config.json").is_file():
        path = path / "adapter"
    if not name:
        name = path.parent.name if path.name == "adapter" else path.name
    if not name.strip() or "/" in name:
        raise ServeError(f"--adapter {text}: give it a model id, e.g. --adapter nova={folder}")
    if not (path / "adapter_config.json").is_file():
        raise ServeError(f"--adapter {text}: {path} is not a PEFT adapter folder (no "
                         "adapter_config.json); pass a run folder or its 'adapter' folder")
    return name.strip(), path.resolve()


class ServeBackend:
    """The loaded model, adapters and loop. Build it off the event loop (loading takes a while)."""

    def __init__(self, setup: ChatSetup, adapters: dict[str, Path],
                 progress: Any = None, slots: int = 8) -> None:
        """``slots``: requests answered at once (inference.serving.max_concurrent_requests); the
        llama.cpp engine keeps one KV sequence for each."""
        from llamahome_gui.core.chat.session import ChatFailed, ChatSession, LoadProgressed

        failures: list[str] = []

        def listen(event: object) -> None:
            if isinstance(event, ChatFailed):
                failures.append(event.message)
            elif isinstance(event, LoadProgressed) and progress is not None:
                progress(event.message)

        self.session = ChatSession(listener=listen)
        # A server never runs code from the model folder, whatever the config says. Its answers
        # come from the batched loop (GenerationLoop), not from the chat decoders: the session
        # loads the torch model (tokenizer, adapters), the loop gets its own llama.cpp process.
        info = self.session.load(setup.with_overrides(adapter_path="", trust_remote_code=False,
                                                      decode_engine="torch"))
        if info is None:
            raise ServeError(f"could not load the model: {failures[-1]}")
        self.info = info
        self.base_id = info.model_name
        self.adapters: dict[str, str] = {}  # model id -> peft adapter name
        for name, folder in adapters.items():
            if name == self.base_id or name in self.adapters:
                raise ServeError(f"model id {name!r} is used twice; name the adapter otherwise "
                                 f"(--adapter OTHER={folder})")
            if not self.session.set_adapter(str(folder)):
                raise ServeError(f"adapter {name} ({folder}): {failures[-1]}")
            self.adapters[name] = self.session.engine.model.active_adapter
        self.session.set_adapter("")
        self.defaults: GenerationSettings = setup.settings
        self.system_prompt = setup.system_prompt
        self.tokenizer = self.session.engine.tokenizer
        self.context_limit = info.context_limit
        self.created = int(time.time())
        self.llama: Any = None
        self.decode = "torch"
        loras = self._start_llama(setup, info, adapters, slots, progress)
        self.loop = GenerationLoop(self.session.engine.model, self.tokenizer, self.llama, loras)

    def _start_llama(self, setup: ChatSetup, info: Any, adapters: dict[str, Path], slots: int,
                     progress: Any) -> dict[str | None, int] | None:
        """The llama.cpp engine for the loop, where inference.chat.decode_engine picks it (as
        for chat); None = the loop runs torch. An adapter llama.cpp cannot apply (DoRA, …)
        keeps the whole server on torch, saying so."""
        from llamahome_gui.core.chat.decode_gguf import GGUF_TYPES, LlamaCppProcess
        from llamahome_gui.core.chat.decoders import choose_engine
        from llamahome_gui.core.chat.gguf_files import adapter_gguf, model_gguf
        from llamahome_gui.core.export.errors import UnsupportedModelError
        from llamahome_gui.core.models.loading import usable_cores

        asked, precision = setup.decode_engine, setup.decode_precision
        say = progress or (lambda _m: None)
        folder = Path(info.model_dir)
        engine, why = choose_engine(asked, precision, folder, info.device, info.dtype)
        if engine == "torch" and not why:  # torch chosen (the setting, or float32)
            return None
        # one KV sequence per request answered at once, each the full context; bounded
        if not why and slots * info.context_limit > 262_144:
            why = (f"{slots} requests x {info.context_limit} tokens of context is more KV cache "
                   "than it keeps; lower inference.serving.max_concurrent_requests")
        files: dict[str | None, Path] = {}
        if not why:
            try:
                for name, folder_ in adapters.items():
                    files[self.adapters[name]] = adapter_gguf(folder_, folder)
            except UnsupportedModelError as exc:
                why = str(exc)
        if why:
            if asked == "llama.cpp":
                raise ServeError(f"the llama.cpp engine cannot serve here: {why}. Set "
                                 "inference.chat.decode_engine = auto or torch")
            if not why.startswith("llama-cpp-python is not installed"):
                say(f"note: serving with torch: {why}")
            return None
        gguf_type = GGUF_TYPES[precision]
        threads = max(1, usable_cores() - 1)  # one core for the HTTP side, as the torch loop
        self.llama = LlamaCppProcess(model_gguf(folder, gguf_type, say), threads=threads,
                                     n_ctx=info.context_limit * slots, gguf_type=gguf_type,
                                     batch_threads=usable_cores(), n_seq=slots)
        self.decode = f"llama.cpp/{gguf_type}"
        loras: dict[str | None, int] = {None: -1}
        for peft_name, path in files.items():
            loras[peft_name] = self.llama.lora(path)
        return loras

    def model_ids(self) -> list[str]:
        return [self.base_id, *self.adapters]

    def knows(self, model_id: str) -> bool:
        return model_id == self.base_id or model_id in self.adapters

    def adapter_for(self, model_id: str) -> str | None:
        return self.adapters.get(model_id)

    def chat_ids(self, messages: list[dict[str, str]]) -> list[int]:
        """The conversation rendered with the model's chat template, as the Chat page does;
        without a system message of its own it gets ``inference.chat.system_prompt``, as in
        the Chat page (a model's default instructions, like an Ollama Modelfile's SYSTEM)."""
        own = any(m["role"] == "system" for m in messages)
        return encode(self.tokenizer, render(self.tokenizer, "" if own else self.system_prompt,
                                             messages))

    def prompt_ids(self, prompt: str) -> list[int]:
        return list(self.tokenizer(prompt)["input_ids"])

    def sampling(self, prompt_tokens: int, *, max_tokens: int | None, temperature: float | None,
                 top_p: float | None, seed: int | None, stop: tuple[str, ...]) -> Sampling:
        """The request's sampling, config defaults for what it leaves out. Raises ValueError
        (a 400 for the client) when the prompt and answer do not fit in the context."""
        room = self.context_limit - prompt_tokens
        if room < 1 or (max_tokens is not None and max_tokens > room):
            asked = max_tokens if max_tokens is not None else 1
            raise ValueError(
                f"This model's maximum context length is {self.context_limit} tokens. However, you "
                f"requested {prompt_tokens + asked} tokens ({prompt_tokens} in the messages, "
                f"{asked} in the completion). Please reduce the length of the messages or "
                "completion.")
        d = self.defaults
        temp = d.temperature if temperature is None else temperature
        if temperature is None and not d.do_sample:
            temp = 0.0
        return Sampling(max_new_tokens=max_tokens or min(d.max_new_tokens, room),
                        temperature=temp, top_p=d.top_p if top_p is None else top_p,
                        top_k=d.top_k,
                        repetition_penalty=d.repetition_penalty, seed=seed, stop=stop)

    def submit(self, job: Job) -> Job:
        return self.loop.submit(job)

    def close(self) -> None:
        self.loop.close()
        if self.llama is not None:
            self.llama.close()
        self.session.unload()
