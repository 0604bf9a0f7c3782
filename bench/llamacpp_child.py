"""The llama.cpp reference for bench_chat, in its own process (its thread pool and torch's
never share one; two llama.cpp contexts beside torch in one process crashed here).

A q8_0 model is given ``n_ubatch=1``: this build (0.3.36, AMX CPU) crashes evaluating a
q8_0 batch of more than one token; decoding is one token at a time anyway, only the
prompt's time (TTFT) is affected, so the TTFT comparison uses the f16 reference.

Reads one JSON request per line on stdin, answers one JSON line: {"text": ...} -> its tokens
(special tokens parsed); {"tokens": [...], "n": N} -> the greedy answer's token ids and the
time of each; {"tokens": [...], "force": [...]} -> the top token at each step of the forced
answer (top-1 agreement). Greedy = argmax of the logits, as ours.

    python bench/llamacpp_child.py MODEL.gguf THREADS [PROMPT_THREADS]
"""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    import llama_cpp
    import numpy as np

    path, threads = sys.argv[1], int(sys.argv[2])
    batch_threads = int(sys.argv[3]) if len(sys.argv) > 3 else threads  # for prompts
    extra = {"n_ubatch": 1} if "q8_0" in path.lower() else {}
    llm = llama_cpp.Llama(path, n_threads=threads, n_threads_batch=batch_threads, n_ctx=2048,
                          verbose=False, **extra)
    vocab = llm.n_vocab()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if "text" in request:  # tokenize with the special tokens parsed, as the template means
            ids = llm.tokenize(request["text"].encode(), add_bos=False, special=True)
            print(json.dumps({"tokens": ids}), flush=True)
            continue
        llm._ctx.kv_cache_clear()
        llm.n_tokens = 0
        if "force" in request:  # teacher-forced: the top token at each step of a given answer
            llm.eval(request["tokens"])
            predicted = []
            for token in request["force"]:
                logits = np.ctypeslib.as_array(
                    llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(vocab,))
                logits = logits.copy()
                logits[request.get("mask", [])] = -np.inf  # as ours: EOS masked while forced
                predicted.append(int(logits.argmax()))
                llm.eval([token])
            print(json.dumps({"predicted": predicted}), flush=True)
            continue
        n = int(request["n"])
        out: list[int] = []
        times: list[float] = []
        t0 = time.perf_counter()
        llm.eval(request["tokens"])
        for i in range(n):
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1),
                                           shape=(vocab,))
            out.append(int(logits.argmax()))
            times.append(time.perf_counter())
            if i + 1 < n:
                llm.eval([out[-1]])
        print(json.dumps({"tokens": out, "t0": t0, "times": times}), flush=True)


if __name__ == "__main__":
    main()
