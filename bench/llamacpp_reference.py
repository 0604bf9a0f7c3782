"""The llama.cpp side of bench_chat: GGUF copies of the starter model and a child process per
file that decodes greedily on request (``llamacpp_child.py``).

GGUF files (f16, q8_0) are made once into the bench cache with llama.cpp's own
``convert_hf_to_gguf.py``, for this reference only: pass ``--converter PATH`` (the script in
llama-cpp-python's source archive, ``vendor/llama.cpp/``) or set LLAMAHOME_GGUF_CONVERTER.
Without llama-cpp-python or a converter the reference is skipped with a note.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from common import CACHE_MODELS, PYTHON, ROOT

KINDS = ("f16", "q8_0")


def available() -> str:
    """"" when llama-cpp-python can be imported, else why not."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (pip install llama-cpp-python)"
    return ""


def gguf_file(model_dir: Path, kind: str, converter: str | None) -> Path:
    """``starter-<kind>.gguf`` in the bench cache, converted on first use."""
    target = CACHE_MODELS / "gguf" / f"starter-{kind}.gguf"
    if target.is_file():
        return target
    script = converter or os.environ.get("LLAMAHOME_GGUF_CONVERTER", "")
    if not script or not Path(script).is_file():
        raise FileNotFoundError(
            f"no {target.name} in {target.parent} and no converter: pass --converter "
            "vendor/llama.cpp/convert_hf_to_gguf.py from llama-cpp-python's source archive")
    script_dir = Path(script).resolve().parent
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="llamahome-gguf-") as tmp:
        paths = [str(script_dir / "gguf-py"), str(script_dir)]
        if importlib.util.find_spec("sentencepiece") is None:
            # The converter imports it before finding that this BPE model has no
            # tokenizer.model; a stand-in lets it fall through to the BPE path.
            Path(tmp, "sentencepiece.py").write_text("class SentencePieceProcessor:\n    pass\n")
            paths.append(tmp)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
        partial = target.with_suffix(".partial")
        proc = subprocess.run([PYTHON, str(script), str(model_dir), "--outtype", kind,
                               "--outfile", str(partial)], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0 or not partial.is_file():
            raise RuntimeError(f"GGUF conversion ({kind}) failed:\n{proc.stderr[-2000:]}")
        os.replace(partial, target)
    return target


class LlamaCppChild:
    """One GGUF model in a child process; greedy decodes on request."""

    def __init__(self, path: Path, threads: int, batch_threads: int | None = None) -> None:
        self.path = path
        self._proc = subprocess.Popen(
            [PYTHON, str(ROOT / "bench" / "llamacpp_child.py"), str(path), str(threads),
             str(batch_threads or threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self._ask(None)

    def _ask(self, request: dict[str, Any] | None) -> dict[str, Any]:
        if request is not None:
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"llama.cpp child for {self.path.name} exited "
                               f"(code {self._proc.wait()})")
        return json.loads(line)

    def tokenize(self, text: str) -> list[int]:
        return self._ask({"text": text})["tokens"]

    def decode(self, prompt: list[int], n: int) -> dict[str, float]:
        """Greedy ``n`` tokens; decode tokens/s over tokens 2..n, as ours."""
        r = self._ask({"tokens": prompt, "n": n})
        times = r["times"]
        rate = (n - 1) / (times[-1] - times[0]) if n > 1 and times[-1] > times[0] else 0.0
        return {"ttft_s": times[0] - r["t0"], "decode_tps": rate, "tokens": r["tokens"]}

    def agreement(self, prompt: list[int], reference: list[int], mask: list[int]) -> int:
        """How many of ``reference``'s tokens llama.cpp also ranks first, fed the same prefix
        (``mask``: token ids never picked, the end-of-sequence ids the reference masked)."""
        r = self._ask({"tokens": prompt, "force": reference, "mask": mask})
        return sum(int(a == b) for a, b in zip(r["predicted"], reference, strict=True))

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


def start_children(model_dir: Path, threads: int, converter: str | None,
                   batch_threads: int | None = None) -> dict[str, Any]:
    """{kind: LlamaCppChild} for f16 and q8_0, or {"skipped": why}."""
    why = available()
    if why:
        return {"skipped": why}
    try:
        files = {kind: gguf_file(model_dir, kind, converter) for kind in KINDS}
    except (FileNotFoundError, RuntimeError) as exc:
        return {"skipped": str(exc)}
    return {kind: LlamaCppChild(path, threads, batch_threads) for kind, path in files.items()}


if __name__ == "__main__":  # convert once: python bench/llamacpp_reference.py CONVERTER
    from common import starter_model

    for k in KINDS:
        print(gguf_file(starter_model(), k, sys.argv[1] if len(sys.argv) > 1 else None))
