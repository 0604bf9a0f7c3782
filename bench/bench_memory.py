"""Memory estimate: what ``llamahome train --estimate --json`` predicts against the peak RSS
of the same ``llamahome train`` run.

Two variants, each one real training process at the shipped default settings (config/,
only the model, the dataset and a short ``max_steps`` set):

- ``sample``: the bundled sample dataset (short answers: packed rows of about 100 tokens);
- ``long``: a long-answer dataset (answers of 180 to 300 words, a few hundred tokens each,
  so packed rows are full up to the longest example, close to max_seq_length 512).

The measured figure is the kernel's high-water mark of that process alone (``os.wait4``:
model load, data preparation, the steps, evaluation and the adapter save included); the
prediction is the ``total_bytes`` the estimate command prints for exactly the same
arguments, so the figure checks what users see. Key ``memory_estimate_error[_long]`` =
(predicted - measured) / measured: positive means the estimate errs on the safe side. The
goal is within +-15 %. Each variant runs once (the machine is shared).

    .venv/bin/python bench/bench_memory.py [--quick] [--only sample|long] [--steps N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, check, isolated_env, run_child, starter_model, work_dir  # noqa: E402
from dataset import make_records  # noqa: E402

VARIANTS = ("sample", "long")


def long_answer_dataset(path: Path, count: int = 40, seed: int = 7) -> Path:
    """Alpaca records whose answers are all long (180-300 words), from the bench's
    varied-length generator with only its longest bucket kept."""
    records: list[dict[str, str]] = []
    batch = 0
    while len(records) < count:
        batch += 1
        records += [r for r in make_records(count * 4, seed + batch)
                    if len(r["output"].split()) >= 180]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(r) for r in records[:count]) + "\n", encoding="utf-8")
    return path


def _command(config_dir: Path, model: Path, data: Path | None, extra: list[str]) -> list[str]:
    cmd = [sys.executable, "-m", "llamahome_gui", "train", "--config-dir", str(config_dir),
           "--set", f"model.model.path={json.dumps(str(model))}"]
    if data is not None:
        cmd += ["--set", f"training.training.dataset_path={json.dumps(str(data))}"]
    return cmd + extra


def measure(variant: str, model: Path, steps: int) -> dict[str, Any]:
    home = work_dir(f"memory-{variant}")
    config_dir = home / "config"
    shutil.copytree(ROOT / "config", config_dir)
    data = None if variant == "sample" else long_answer_dataset(home / "long.jsonl")
    env = isolated_env(home)
    est = run_child(_command(config_dir, model, data, ["--estimate", "--json"]), env)
    check(est, "llamahome train --estimate --json")
    predicted = json.loads(est.stdout)
    print(f"  memory[{variant}]: training {steps} steps at the default settings", flush=True)
    res = run_child(_command(config_dir, model, data, [
        "--set", f"training.training.max_steps={steps}", "--run-dir", str(home / "run")]), env)
    check(res, "llamahome train")
    total = int(predicted["total_bytes"])
    return {"predicted_bytes": total, "measured_peak_rss_bytes": res.peak_rss,
            "error": round((total - res.peak_rss) / res.peak_rss, 3),
            "steps": steps, "device": predicted["device"],
            "tokens_per_step": predicted["tokens_per_step"],
            "estimate_terms": predicted["terms_bytes"], "notes": predicted["notes"]}


def run(quick: bool = False, train_result: dict[str, Any] | None = None,
        only: tuple[str, ...] = VARIANTS, steps: int | None = None) -> dict[str, Any]:
    """``train_result`` is accepted for bench/run.py's calling convention (unused). The
    peak comes in the first step (the longest rows are in every batch of packed data), so
    a few steps are enough."""
    model = starter_model()
    steps = steps or (3 if quick else 6)
    out: dict[str, Any] = {}
    for variant in only:
        result = measure(variant, model, steps)
        key = "memory_estimate_error" + ("" if variant == "sample" else f"_{variant}")
        out[key] = result["error"]
        out[f"memory_{variant}"] = result
    return out


def main() -> None:
    p = argparse.ArgumentParser(description="memory estimate vs measured peak RSS")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", choices=VARIANTS, action="append")
    p.add_argument("--steps", type=int, help="optimizer steps per run (default 6, quick 3)")
    a = p.parse_args()
    print(json.dumps(run(a.quick, only=tuple(a.only or VARIANTS), steps=a.steps), indent=2))


if __name__ == "__main__":
    main()
