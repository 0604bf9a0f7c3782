"""Measure the peak memory of LoRA training and compare it with the estimate
(llamahome_gui.core.models.memory).

Default mode runs the real trainer (``llamahome train``, 2 steps) as a child process on a
generated plain-text dataset whose every record is longer than max_seq_length, so each row
is full and every token is trained (the estimate's worst case), and reads the child's peak
RSS from ``resource.getrusage(RUSAGE_CHILDREN)``. ``--raw`` instead runs one HF-style step
(model(labels=...) loss) in a child and also reports the bytes autograd saved.

    .venv/bin/python bench/measure_training_memory.py MODEL_DIR --sizes 1x256 2x256 4x512
    .venv/bin/python bench/measure_training_memory.py MODEL_DIR --raw --sizes 1x256

Prints one JSON line per size: measured peak, estimate, error in percent.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def raw_step(model_dir: str, batch: int, seq: int, r: int) -> dict:
    """One forward/backward/AdamW step after a warm-up step, in this process."""
    import psutil
    import torch
    from peft import LoraConfig, get_peft_model

    from llamahome_gui.core.models.loading import load_model_and_tokenizer

    proc = psutil.Process()
    torch.manual_seed(0)
    model, _tok = load_model_and_tokenizer(Path(model_dir), device="cpu", dtype=torch.float32)
    model.config.use_cache = False
    model = get_peft_model(model, LoraConfig(r=r, lora_alpha=2 * r, lora_dropout=0.05,
                                             target_modules="all-linear", task_type="CAUSAL_LM"))
    model.train()
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    ids = torch.randint(0, model.config.vocab_size, (batch, seq))
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved = {"bytes": 0}
    seen: set[int] = set()
    peak = {"rss": 0}
    stop = threading.Event()

    def pack(t: torch.Tensor) -> torch.Tensor:
        key = t.untyped_storage().data_ptr()
        if key not in seen and key not in params:
            seen.add(key)
            saved["bytes"] += t.untyped_storage().nbytes()
        return t

    def sample() -> None:
        while not stop.wait(0.002):
            peak["rss"] = max(peak["rss"], proc.memory_info().rss)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    for _ in range(2):  # the first step allocates the optimizer states
        seen.clear()
        saved["bytes"] = 0
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = model(input_ids=ids, labels=ids)
        out.loss.backward()
        optim.step()
        optim.zero_grad(set_to_none=True)
        del out
    stop.set()
    thread.join()
    return {"peak_rss_sampled": peak["rss"],
            "measured_peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "saved_activation_bytes": saved["bytes"]}


def long_text_dataset(folder: Path, words_per_record: int = 1200, records: int = 24) -> Path:
    vocabulary = (REPO / "resources" / "sample_dataset.jsonl").read_text().replace('"', " ").split()
    rng = random.Random(0)
    path = folder / "long.txt"
    path.write_text("\n\n".join(" ".join(rng.choice(vocabulary) for _ in range(words_per_record))
                                for _ in range(records)) + "\n")
    return path


def trainer_run(model_dir: str, batch: int, seq: int, r: int, checkpointing: bool,
                work: Path) -> dict:
    """``llamahome train`` for 2 steps in a child process; its peak RSS."""
    data = long_text_dataset(work)
    shutil.copytree(REPO / "config", work / "config", dirs_exist_ok=True)
    sets = {"model.model.path": f'"{model_dir}"', "training.training.dataset_path": f'"{data}"',
            "training.training.max_steps": "2", "training.training.eval_split": "0.0",
            "training.training.per_device_train_batch_size": str(batch),
            "training.training.max_seq_length": str(seq), "training.lora.r": str(r),
            "training.training.gradient_checkpointing": str(checkpointing).lower()}
    cmd = [sys.executable, "-m", "llamahome_gui", "train", "--config-dir", str(work / "config"),
           "--run-dir", str(work / f"run-{batch}x{seq}"), "--force"]
    for key, value in sets.items():
        cmd += ["--set", f"{key}={value}"]
    env = {**os.environ, "LLAMAHOME_DATA_HOME": str(work / "data"),
           "LLAMAHOME_CONFIG_HOME": str(work / "user-config")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"llamahome train failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if after <= before:
        raise SystemExit("peak RSS of this run is hidden by an earlier, larger child; run the "
                         "sizes in increasing order or one per call")
    return {"measured_peak": after * 1024}


def estimate(model_dir: str, batch: int, seq: int, r: int, checkpointing: bool) -> dict:
    from llamahome_gui.config.schema import LoraSection, TrainingSection
    from llamahome_gui.core.models.memory import estimate_training_memory

    training = TrainingSection(per_device_train_batch_size=batch, max_seq_length=seq,
                               gradient_checkpointing=checkpointing)
    est = estimate_training_memory(model_dir, training, LoraSection(r=r), device="cpu")
    return {"estimate_total": est.total, "estimate_activations": est.activations}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model_dir")
    p.add_argument("--sizes", nargs="+", default=["1x256"], help="BATCHxSEQ, increasing")
    p.add_argument("--r", type=int, default=16)
    p.add_argument("--checkpointing", action="store_true")
    p.add_argument("--raw", action="store_true", help="one HF-style step instead of the trainer")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    model_dir = str(Path(a.model_dir).resolve())
    if a.child:
        batch, seq = map(int, a.sizes[0].split("x"))
        print(json.dumps(raw_step(model_dir, batch, seq, a.r)))
        return 0
    for size in a.sizes:
        batch, seq = map(int, size.split("x"))
        if a.raw:
            out = subprocess.run([sys.executable, __file__, model_dir, "--child", "--sizes", size,
                                  "--r", str(a.r)], capture_output=True, text=True, check=True)
            measured = json.loads(out.stdout.strip().splitlines()[-1])
        else:
            with tempfile.TemporaryDirectory(prefix="llamahome-mem-") as tmp:
                measured = trainer_run(model_dir, batch, seq, a.r, a.checkpointing, Path(tmp))
        est = estimate(model_dir, batch, seq, a.r, a.checkpointing)
        error = 100.0 * (est["estimate_total"] - measured["measured_peak"]) / measured["measured_peak"]
        print(json.dumps({"model": Path(model_dir).name, "mode": "raw" if a.raw else "trainer",
                          "batch": batch, "seq": seq, "r": a.r, "checkpointing": a.checkpointing,
                          **measured, **est, "error_percent": round(error, 1)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
