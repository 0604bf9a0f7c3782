"""bf16 autocast against fp32 for LoRA training on the CPU (issue 16, part 5).

What: the same run twice per precision, alternating (fp32, bf16, fp32, bf16), through the
real trainer (``run_training``) on the starter model: LoRA r 16 on all linear layers, the
bench dataset (``bench/dataset.py``), ``--batch`` 4, ``--max-len`` 256, ``--steps`` steps,
no evaluation or checkpoints. Reported: the in-loop tokens/s of the last step event (best of
the runs: another process on a shared machine only slows a run down), its ratio bf16 / fp32,
and how far the loss curves are apart (largest relative difference at any step; both runs
see the same batches in the same order). The CPU's bf16 support is printed too: without
AVX512-BF16/AMX, autocast emulates bf16 and is slower.

    .venv/bin/python bench/bench_bf16_cpu.py [--steps 8] [--rounds 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import starter_model  # noqa: E402
from dataset import write_dataset  # noqa: E402


def one_run(model: Path, data: Path, steps: int, precision: str, batch: int,
            max_len: int) -> dict:
    from llamahome_gui.config.schema import COMPONENTS
    from llamahome_gui.core.runs import RUN_COMPONENTS
    from llamahome_gui.core.runs.events import RunStarted, StepLogged, read_events
    from llamahome_gui.core.train import run_training

    configs = {name: COMPONENTS[name]() for name in RUN_COMPONENTS}
    configs["model"].model.path = str(model)
    configs["model"].model.device = "cpu"
    configs["monitoring"].visualization.tensorboard = False
    t = configs["training"].training
    for key, value in {"dataset_path": str(data), "max_steps": steps, "eval_split": 0.0,
                       "per_device_train_batch_size": batch, "max_seq_length": max_len,
                       "save_steps": 10_000, "mixed_precision": precision,
                       "warmup_ratio": 0.0}.items():
        setattr(t, key, value)
    run_dir = Path(tempfile.mkdtemp(prefix=f"bf16-bench-{precision}-"))
    run_training(run_dir, configs)
    events = read_events(run_dir)
    start = next(e for e in events if isinstance(e, RunStarted))
    step_events = [e for e in events if isinstance(e, StepLogged)]
    return {"precision": start.config["mixed_precision"],
            "tokens_per_s": step_events[-1].tokens_per_s,
            "losses": [round(e.loss, 5) for e in step_events]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="runs per precision")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--max-len", type=int, default=256)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from llamahome_gui.core.train.prepare import cpu_supports_bf16

    model = starter_model()
    data = write_dataset(Path(tempfile.mkdtemp(prefix="bf16-data-")) / "data.jsonl", 64)
    runs: dict[str, list[dict]] = {"no": [], "bf16": []}
    for _ in range(args.rounds):
        for precision in ("no", "bf16"):
            result = one_run(model, data, args.steps, precision, args.batch, args.max_len)
            runs[precision].append(result)
            print(f"{precision:>4}: {result['tokens_per_s']:8.1f} tokens/s  "
                  f"losses {result['losses']}", flush=True)
    best = {p: max(r["tokens_per_s"] for r in rs) for p, rs in runs.items()}
    fp32, bf16 = runs["no"][0]["losses"], runs["bf16"][0]["losses"]
    drift = max(abs(a - b) / abs(a) for a, b in zip(fp32, bf16, strict=True))
    summary = {"cpu_bf16": cpu_supports_bf16(), "steps": args.steps, "batch": args.batch,
               "max_len": args.max_len, "rounds": args.rounds,
               "fp32_tokens_per_s": best["no"], "bf16_tokens_per_s": best["bf16"],
               "bf16_speedup_vs_fp32": round(best["bf16"] / best["no"], 3),
               "autocast_used": runs["bf16"][0]["precision"],
               "loss_max_rel_diff": round(drift, 4),
               "final_loss": {"fp32": fp32[-1], "bf16": bf16[-1]}, "runs": runs}
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
