"""The llama.cpp decoder: a GGUF copy of the model answered by llama.cpp in a child process
(``core.chat.llamacpp_worker``), behind the same :class:`~core.chat.decode.Stepper` as our
own decoders, so the decode loop, sampling, Stop, streaming and statistics are unchanged.

Commands go down a pipe, one line per token; the logits come back through a shared file
mapped in both processes (no copy through the pipe). The base model answers with no LoRA
set; an adapter answers with its GGUF LoRA file set on the same context (``open``), so A/B
and switching adapters never load the base again. Optional: needs llama-cpp-python
(``pip install 'llamahome-gui[llamacpp]'``).
"""

from __future__ import annotations

import importlib.util
import json
import mmap
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

# inference.chat.decode_precision -> the GGUF type the llama.cpp decoder runs
GGUF_TYPES = {"auto": "f16", "float16": "f16", "float32": "f32", "int8": "q8_0"}


class DecoderStopped(RuntimeError):
    """The llama.cpp process failed or ended; the message says how and what happens next."""


def llama_cpp_missing() -> str:
    """"" when llama-cpp-python can be imported here, else how to get it."""
    if importlib.util.find_spec("llama_cpp") is None:
        return ("llama-cpp-python is not installed (pip install 'llamahome-gui[llamacpp]', or "
                "bash installer/install.sh --llamacpp)")
    return ""


def _shared_dir() -> str | None:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


class LlamaCppProcess:
    """One GGUF model in a child process. Not thread-safe: the engine's one answer at a time."""

    def __init__(self, gguf: Path, *, threads: int, n_ctx: int, gguf_type: str = "f16",
                 batch_threads: int | None = None, n_seq: int = 1) -> None:
        self.path = Path(gguf)
        self._stderr = tempfile.TemporaryFile()
        fd, self._logits_path = tempfile.mkstemp(prefix="llamahome-logits-", dir=_shared_dir())
        os.close(fd)
        # q8_0: llama.cpp's repacked CPU layout is ~1.8x faster per token here, but this
        # build crashes evaluating more than one token at a time in it, so prompts go token
        # by token; f16 / f32 run the plain layout, measured faster here (bench/README.md).
        quantized = gguf_type not in ("f16", "f32", "bf16")
        if quantized:  # one token per pass: llama.cpp runs those on ``threads`` anyway
            batch_threads = threads
        # ``threads`` compute each new token; a prompt (a short burst of matrix products, not
        # memory bound) gets ``batch_threads``: every usable core, as llama.cpp's own tools do.
        self.threads, self.batch_threads = int(threads), int(batch_threads or threads)
        self._prompt_threads = self.batch_threads
        spec = {"model": str(self.path), "threads": int(threads), "n_ctx": int(n_ctx),
                "batch_threads": self.batch_threads, "n_seq": int(n_seq),
                "extra_bufts": quantized, "n_ubatch": 1 if quantized else 512,
                "logits": self._logits_path}
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "llamahome_gui.core.chat.llamacpp_worker", json.dumps(spec)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True,
            bufsize=1, env=env)
        self._loras: dict[str, int] = {}
        try:
            first = self.read()
            if not first.startswith("ready "):
                raise DecoderStopped(f"llama.cpp could not open {self.path.name}: "
                                     f"{first.removeprefix('err ')}")
            _, vocab, ctx = first.split()
            self.vocab, self.n_ctx = int(vocab), int(ctx)
            with open(self._logits_path, "r+b") as fh:
                self._map = mmap.mmap(fh.fileno(), self.vocab * 4 * n_seq)
        except BaseException:
            self.close()
            raise
        import torch

        self.n_seq = n_seq
        self.rows = torch.frombuffer(self._map, dtype=torch.float32,
                                     count=self.vocab * n_seq).view(n_seq, self.vocab)
        self.logits = self.rows[0]

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def read(self) -> str:
        """The next line from the process; DecoderStopped when it has ended."""
        line = self._proc.stdout.readline()
        if not line:
            raise DecoderStopped(f"{self.death_note()}; send again to answer with torch")
        return line.rstrip("\n")

    def death_note(self) -> str:
        code = self._proc.wait()
        self._stderr.seek(0)
        tail = self._stderr.read()[-400:].decode("utf-8", "replace").strip().splitlines()
        why = f": {tail[-1]}" if tail else ""
        return f"the llama.cpp decoder stopped (exit code {code}){why}"

    def send(self, line: str) -> None:
        """Write one command line; DecoderStopped when the process is gone."""
        try:
            self._proc.stdin.write(line + "\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            raise DecoderStopped(f"{self.death_note()}; send again to answer with torch") from None

    def ask(self, line: str) -> None:
        """Send one command and wait for its "ok"; DecoderStopped when it fails."""
        self.send(line)
        answer = self.read()
        if answer != "ok":
            raise DecoderStopped(f"llama.cpp: {answer.removeprefix('err ')}")

    def fit_prompt_threads(self) -> None:
        """Every core for the next prompt unless the cores are already taken: beside a trainer
        (or anything else keeping them busy), threads that wait for each other at every step
        stall whenever the OS gives one of their cores away (measured with torch's: 0.6 s a
        token on one thread, 9-10 s on two, bench/README.md), so the prompt then runs on the
        decode threads. Busy = the 1-minute load average above the cores but half a one."""
        wanted = self.batch_threads
        if wanted > self.threads:
            try:
                busy = os.getloadavg()[0]
            except OSError:
                busy = 0.0
            if busy > wanted - 0.5:
                wanted = self.threads
        if wanted != self._prompt_threads:
            self.ask(f"threads {self.threads} {wanted}")
            self._prompt_threads = wanted

    def lora(self, path: Path) -> int:
        """The number of this GGUF LoRA file in the process, loaded on first use."""
        key = str(path)
        if key not in self._loras:
            ident = len(self._loras)
            self.ask(f"lora {ident} {key}")
            self._loras[key] = ident
        return self._loras[key]

    def batch(self, lora: int, entries: list[tuple[int, int, list[int]]]) -> Any:
        """Several sequences in one pass (the server): (seq, first position, tokens) each; row i
        of the result holds entry i's next-token logits (valid until the next call)."""
        self.ask(f"batch {lora};" + ";".join(f"{seq} {pos} {' '.join(map(str, tokens))}"
                                             for seq, pos, tokens in entries))
        return self.rows[:len(entries)]

    def drop(self, seq: int) -> None:
        self.ask(f"drop {seq}")

    def close(self) -> None:
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            try:
                proc.stdin.write("quit\n")
                proc.stdin.flush()
                proc.wait(timeout=10)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
        self.logits = self.rows = None
        mapped = getattr(self, "_map", None)
        if mapped is not None:
            try:
                mapped.close()
            except BufferError:  # a tensor still views it; the OS frees it with the process
                pass
        Path(self._logits_path).unlink(missing_ok=True)
        self._stderr.close()


class GgufStepper:
    """A Stepper over the llama.cpp process: the base model (``lora`` -1) or one LoRA file."""

    def __init__(self, process: LlamaCppProcess, lora: int = -1) -> None:
        self.process = process
        self.lora = lora

    def open(self, capacity: int) -> _GgufSession:
        if capacity > self.process.n_ctx:
            raise DecoderStopped(f"{capacity} tokens do not fit the llama.cpp context of "
                                 f"{self.process.n_ctx}")
        self.process.fit_prompt_threads()
        self.process.ask(f"open {self.lora}")
        return _GgufSession(self.process)


class _GgufSession:
    def __init__(self, process: LlamaCppProcess) -> None:
        self._p = process

    def greedy_run(self, prompt: list[int], max_new: int, min_new: int, eos_ids: set[int],
                   stop: Any, on_token: Any) -> str:
        """The whole greedy answer in the llama.cpp process, each token sent as it is picked:
        no round trip per token, and this side's work (text, callbacks) overlaps the next
        token's. Stop is read after every token as in ``run_decode``; the process is told to
        end and its token in flight is dropped. Returns "eos", "length" or "stopped"."""
        p = self._p
        eos = ",".join(map(str, sorted(eos_ids))) or ","
        p.send(f"greedy {max_new} {min_new} {eos} 0 " + " ".join(map(str, prompt)))
        produced, reason, told = 0, "length", False
        while True:
            line = p.read()
            if line == "ok":
                return reason
            if not line.startswith("t "):
                raise DecoderStopped(f"llama.cpp: {line.removeprefix('err ')}")
            if told:
                continue  # computed before the process read Stop: not shown
            token = int(line[2:])
            produced += 1
            on_token(token)
            if token in eos_ids:
                reason = "eos"
            elif stop.is_set():
                reason = "stopped"
                if produced < max_new:
                    told = True
                    p.send("stop")

    def prefill(self, ids: list[int]) -> Any:
        self._p.ask("eval 0 " + " ".join(map(str, ids)))
        return self._p.logits

    def step(self, token: Any, position: int) -> Any:
        self._p.ask(f"eval {position} {int(token)}")
        return self._p.logits
