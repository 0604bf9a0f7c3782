"""The llama.cpp decoder's own process: one GGUF model, its LoRA files, one context.

Started by ``core.chat.decode_gguf.LlamaCppProcess`` (``python -m`` this module with one JSON
argument). A separate process because llama.cpp is native code: a crash in it (this build
has crashed on some quantized files) ends this process, not the window or the server, and
its thread pool never competes with torch's inside one process.

Commands arrive one per line on stdin; each is answered with one line on stdout, "ok …" or
"err <message>". The logits of the last evaluated token are written into the shared file the
parent named (float32 x vocabulary), before "ok" is written.

    ready <vocab> <n_ctx>              (once, after loading)
    lora <id> <path>   -> ok           load a GGUF LoRA file under the number ``id``
    open <id>          -> ok           new answer: empty KV cache; LoRA ``id`` (-1 = none)
    eval <pos> <t1> <t2> ...   -> ok   evaluate tokens from position ``pos``; logits of the last
    batch <id>;<seq> <pos> <t1> ...;<seq> <pos> <t1> ...   -> ok
                                       the server: several sequences (their own KV cells) in one
                                       pass with LoRA ``id``; entry i's last logits go to row i
    drop <seq>         -> ok           forget one sequence's cells
    threads <n> <nb>   -> ok           threads for one token / for a prompt from now on
    greedy <n> <mask> <e1,e2..> <pos> <t1> ...  -> "t <id>" per token, then ok
                                       evaluate the prompt, then pick (argmax) and evaluate up to
                                       n tokens here, each sent as it is picked (no round trip
                                       per token); the end ids are not picked while fewer than
                                       ``mask`` tokens are out; a "stop" line ends it after the
                                       token being computed (a stray "stop" later is ignored)
    quit
"""

from __future__ import annotations

import ctypes
import json
import mmap
import sys
from typing import Any


class Decoder:
    def __init__(self, spec: dict[str, Any]) -> None:
        import llama_cpp
        import llama_cpp._logger  # noqa: F401 - installs its log callback

        llama_cpp._logger.set_verbose(False)
        self.L = L = llama_cpp  # noqa: N806 - the bindings
        L.llama_backend_init()
        params = L.llama_model_default_params()
        params.use_extra_bufts = bool(spec.get("extra_bufts", False))
        self.model = L.llama_model_load_from_file(spec["model"].encode(), params)
        if not self.model:
            raise RuntimeError(f"llama.cpp could not load {spec['model']}")
        cparams = L.llama_context_default_params()
        cparams.n_ctx = int(spec["n_ctx"])
        cparams.n_batch = int(spec.get("n_batch", 512))
        cparams.n_ubatch = int(spec.get("n_ubatch", 512))
        cparams.n_threads = int(spec["threads"])
        cparams.n_threads_batch = int(spec.get("batch_threads") or spec["threads"])
        cparams.no_perf = True
        cparams.n_seq_max = max(1, int(spec.get("n_seq", 1)))  # n_ctx is shared out among them
        self.ctx = L.llama_init_from_model(self.model, cparams)
        if not self.ctx:
            raise RuntimeError("llama.cpp could not make a context (n_ctx too large for memory?)")
        self.vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(self.model))
        self.n_ctx = L.llama_n_ctx(self.ctx)
        self.n_batch = cparams.n_batch
        self.batch_buf = L.llama_batch_init(self.n_batch, 0, 1)
        self.loras: dict[int, Any] = {}
        self.active = -2  # nothing set yet
        self._file = open(spec["logits"], "r+b")  # noqa: SIM115 - lives as long as the process
        rows = max(1, int(spec.get("n_seq", 1)))
        self._file.truncate(self.vocab * 4 * rows)  # sized here: only this side knows the vocabulary
        self._map = mmap.mmap(self._file.fileno(), self.vocab * 4 * rows)
        self._out = ctypes.addressof(ctypes.c_char.from_buffer(self._map))

    def lora(self, ident: int, path: str) -> None:
        adapter = self.L.llama_adapter_lora_init(self.model, path.encode())
        if not adapter:
            raise RuntimeError(f"llama.cpp could not load the LoRA file {path}")
        self.loras[ident] = adapter

    def open(self, ident: int) -> None:
        L = self.L  # noqa: N806
        L.llama_memory_clear(L.llama_get_memory(self.ctx), False)  # the cells, not the bytes
        self.use_lora(ident)

    def drop(self, seq: int) -> None:
        self.L.llama_memory_seq_rm(self.L.llama_get_memory(self.ctx), seq, -1, -1)

    def use_lora(self, ident: int) -> None:
        L = self.L  # noqa: N806
        if ident == self.active:
            return
        if ident < 0:
            L.llama_set_adapters_lora(self.ctx, None, 0, None)
        else:
            adapters = (L.llama_adapter_lora_p_ctypes * 1)(self.loras[ident])
            scales = (ctypes.c_float * 1)(1.0)
            L.llama_set_adapters_lora(self.ctx, adapters, 1, scales)
        self.active = ident

    def eval(self, pos: int, tokens: list[int]) -> None:
        if pos + len(tokens) > self.n_ctx:
            raise RuntimeError(f"{pos + len(tokens)} tokens do not fit the context of {self.n_ctx}")
        b = self.batch_buf
        for start in range(0, len(tokens), self.n_batch):
            chunk = tokens[start:start + self.n_batch]
            for i, token in enumerate(chunk):
                b.token[i] = token
                b.pos[i] = pos + start + i
                b.n_seq_id[i] = 1
                b.seq_id[i][0] = 0
                b.logits[i] = False
            b.logits[len(chunk) - 1] = True
            b.n_tokens = len(chunk)
            code = self.L.llama_decode(self.ctx, b)
            if code != 0:
                raise RuntimeError(f"llama_decode returned {code}")
        ctypes.memmove(self._out, self.L.llama_get_logits_ith(self.ctx, -1), self.vocab * 4)

    def greedy(self, n: int, mask: int, eos: list[int], pos: int, prompt: list[int],
               out: Any) -> None:
        import select

        import numpy as np

        L = self.L  # noqa: N806
        self.eval(pos, prompt)
        pos += len(prompt)
        view = np.ctypeslib.as_array(ctypes.cast(self._out, ctypes.POINTER(ctypes.c_float)),
                                     shape=(self.vocab,))
        ends = set(eos)
        for i in range(n):
            logits = view if i == 0 else np.ctypeslib.as_array(
                L.llama_get_logits_ith(self.ctx, -1), shape=(self.vocab,))
            token = int(logits.argmax())
            if i < mask and token in ends:
                masked = logits.copy()
                masked[eos] = -np.inf
                token = int(masked.argmax())
            out.write(f"t {token}\n")
            out.flush()
            if token in ends or i + 1 == n:
                return
            if select.select([sys.stdin], [], [], 0)[0]:
                if sys.stdin.readline().strip() == "stop":
                    return
            b = self.batch_buf
            b.token[0], b.pos[0], b.n_seq_id[0], b.logits[0], b.n_tokens = token, pos, 1, True, 1
            b.seq_id[0][0] = 0
            code = L.llama_decode(self.ctx, b)
            if code != 0:
                raise RuntimeError(f"llama_decode returned {code}")
            pos += 1

    def batch(self, ident: int, entries: list[tuple[int, int, list[int]]]) -> None:
        """Each (seq, pos, tokens) appended to its own sequence; passes of at most n_batch
        tokens; the logits of entry i's last token copied to row i."""
        self.use_lora(ident)
        flat = [(row, seq, pos + i, token, i == len(tokens) - 1)
                for row, (seq, pos, tokens) in enumerate(entries) for i, token in enumerate(tokens)]
        b, size = self.batch_buf, self.vocab * 4
        for start in range(0, len(flat), self.n_batch):
            chunk = flat[start:start + self.n_batch]
            for i, (_row, seq, pos, token, last) in enumerate(chunk):
                b.token[i], b.pos[i], b.n_seq_id[i] = token, pos, 1
                b.seq_id[i][0] = seq
                b.logits[i] = last
            b.n_tokens = len(chunk)
            code = self.L.llama_decode(self.ctx, b)
            if code != 0:
                raise RuntimeError(f"llama_decode returned {code}")
            for i, (row, _seq, _pos, _token, last) in enumerate(chunk):
                if last:
                    ctypes.memmove(self._out + row * size,
                                   self.L.llama_get_logits_ith(self.ctx, i), size)


def main() -> None:
    spec = json.loads(sys.argv[1])
    out = sys.stdout
    try:
        decoder = Decoder(spec)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        out.write(f"err {exc}\n")
        out.flush()
        return
    out.write(f"ready {decoder.vocab} {decoder.n_ctx}\n")
    out.flush()
    for line in sys.stdin:
        word, _, rest = line.rstrip("\n").partition(" ")
        try:
            if word == "eval":
                numbers = [int(x) for x in rest.split()]
                decoder.eval(numbers[0], numbers[1:])
            elif word == "batch":
                head, *parts = rest.split(";")
                entries = []
                for part in parts:
                    seq, pos, *tokens = (int(x) for x in part.split())
                    entries.append((seq, pos, tokens))
                decoder.batch(int(head), entries)
            elif word == "greedy":
                n, mask, eos, pos, *prompt = rest.split()
                decoder.greedy(int(n), int(mask), [int(e) for e in eos.split(",") if e],
                               int(pos), [int(t) for t in prompt], out)
            elif word == "stop":  # a Stop that came after its answer had ended
                continue
            elif word == "threads":
                n, nb = (int(x) for x in rest.split())
                decoder.L.llama_set_n_threads(decoder.ctx, n, nb)
            elif word == "drop":
                decoder.drop(int(rest))
            elif word == "open":
                decoder.open(int(rest))
            elif word == "lora":
                ident, _, path = rest.partition(" ")
                decoder.lora(int(ident), path)
            elif word == "quit":
                break
            else:
                raise RuntimeError(f"unknown command {word!r}")
        except Exception as exc:  # noqa: BLE001 - one line back; the parent decides
            out.write(f"err {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}\n")
        else:
            out.write("ok\n")
        out.flush()


if __name__ == "__main__":
    main()
