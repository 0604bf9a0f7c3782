"""Memory estimate: what ``estimate_training_memory`` predicts against what a real run uses.

What: a real ``llamahome train`` process (starter model, LoRA r 16 on all linear layers,
batch 4, max_seq_length 256, a few steps) on the varied-length dataset; its peak RSS is the
kernel's high-water mark for exactly that process (``os.wait4``). The data holds records
longer than 256 tokens, so packed rows are full ``max_seq_length`` rows -- the worst case the
estimate is made for. The prediction is ``estimate_training_memory`` for the same settings
on the same device (on a GPU the figure to compare would be the CUDA peak instead).

Key ``memory_estimate_error`` = (predicted - measured) / measured: positive means the
estimate errs on the safe side. The training benchmark's run (max length 512, rows only as
long as its longest example) is compared too, as a second data point, when it ran.

    .venv/bin/python bench/bench_memory.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_train import SETTINGS, our_command  # noqa: E402
from common import check, isolated_env, run_child, starter_model, work_dir  # noqa: E402
from dataset import write_dataset  # noqa: E402


def predict(model: Path, batch: int, max_len: int, r: int, alpha: float,
            dropout: float) -> Any:
    from llamahome_gui.config.schema import LoraSection, TrainingSection
    from llamahome_gui.core.models.loading import pick_device
    from llamahome_gui.core.models.memory import estimate_training_memory

    training = TrainingSection(per_device_train_batch_size=batch, max_seq_length=max_len,
                               gradient_checkpointing=False)
    lora = LoraSection(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=["all-linear"])
    return estimate_training_memory(model, training, lora, pick_device("auto"))


def _error(predicted: int, measured: int) -> float:
    return round((predicted - measured) / measured, 3)


def run(quick: bool = False, train_result: dict[str, Any] | None = None) -> dict[str, Any]:
    model = starter_model()
    home = work_dir("memory")
    data = write_dataset(home / "varied.jsonl", 48)
    s = dict(SETTINGS, max_len=256, epochs=1.0)
    steps = 2 if quick else 4
    cmd = our_command(model, data, home / "run", s)
    cmd += ["--set", f"training.training.max_steps={steps}"]
    print(f"  memory: training {steps} steps (batch {s['batch']}, max length {s['max_len']})",
          flush=True)
    res = run_child(cmd, isolated_env(home))
    check(res, "llamahome train")
    est = predict(model, s["batch"], s["max_len"], s["r"], s["alpha"], s["dropout"])
    out: dict[str, Any] = {
        "memory_estimate_error": _error(est.total, res.peak_rss),
        "memory_predicted_bytes": est.total,
        "memory_measured_peak_rss_bytes": res.peak_rss,
        "memory_setup": {"batch": s["batch"], "max_len": s["max_len"], "steps": steps,
                         "lora_r": s["r"], "device": est.device,
                         "estimate_terms": dict(est.rows())},
    }
    if train_result and train_result.get("_train_peak_rss"):
        ts = train_result["_train_settings"]
        est2 = predict(model, ts["batch"], ts["max_len"], ts["r"], ts["alpha"], ts["dropout"])
        out["memory_train_bench_run"] = {
            "predicted_bytes": est2.total, "measured_peak_rss_bytes": train_result["_train_peak_rss"],
            "error": _error(est2.total, train_result["_train_peak_rss"]),
            "note": "rows as long as the longest example, not max_len: the estimate's worst "
                    "case is not reached, so a positive error is expected"}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description="memory estimate vs measured peak RSS")
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    print(json.dumps(run(a.quick), indent=2))


if __name__ == "__main__":
    main()
