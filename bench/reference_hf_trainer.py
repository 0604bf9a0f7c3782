"""The reference trainer: what the popular fine-tuning scripts do, for the training benchmark.

transformers' ``Trainer`` + peft LoRA + ``DataCollatorForSeq2Seq`` (each batch padded to its
longest example, labels padded with -100), fp32 on the CPU, no evaluation, no checkpoints,
the adapter saved at the end. The records are rendered with the project's own
``render_examples`` (chat template, system prompt, assistant-only labels), so both trainers
see exactly the same tokens and learn on exactly the same positions.

    .venv/bin/python bench/reference_hf_trainer.py --model DIR --data FILE.jsonl --out DIR \
        [--batch 4] [--max-len 512] [--epochs 1] [--lr 2e-4] [--r 16]

Prints one JSON line at the end: records, real tokens, padded tokens, steps, train_runtime.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--max-len", type=int, default=512)
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--r", type=int, default=16)
    p.add_argument("--alpha", type=float, default=32.0)
    p.add_argument("--dropout", type=float, default=0.05)
    p.add_argument("--system-prompt", default="You are a helpful assistant.")
    p.add_argument("--seed", type=int, default=42)
    a = p.parse_args()
    started = time.perf_counter()

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        Trainer,
        TrainingArguments,
    )

    from llamahome_gui.core.data import load_dataset, render_examples

    tokenizer = AutoTokenizer.from_pretrained(a.model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    ds = load_dataset(Path(a.data), "auto")
    examples = render_examples(ds.records, tokenizer, a.max_len, system_prompt=a.system_prompt)
    rows = [{"input_ids": e.input_ids, "attention_mask": [1] * len(e.input_ids),
             "labels": e.labels} for e in examples]

    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32)
    model.config.use_cache = False
    model = get_peft_model(model, LoraConfig(r=a.r, lora_alpha=a.alpha, lora_dropout=a.dropout,
                                             target_modules="all-linear", bias="none",
                                             task_type="CAUSAL_LM"))
    collator = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)
    args = TrainingArguments(
        output_dir=a.out, per_device_train_batch_size=a.batch, gradient_accumulation_steps=1,
        num_train_epochs=a.epochs, learning_rate=a.lr, lr_scheduler_type="cosine",
        warmup_steps=0.03, weight_decay=0.0, max_grad_norm=1.0, logging_steps=1,
        save_strategy="no", eval_strategy="no", report_to="none", seed=a.seed,
        use_cpu=not torch.cuda.is_available(), dataloader_num_workers=0,
        remove_unused_columns=False, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=rows, data_collator=collator)
    result = trainer.train()
    model.save_pretrained(str(Path(a.out) / "adapter"), safe_serialization=True)

    padded = 0
    for start in range(0, len(rows), a.batch):  # what per-batch padding costs (sequential order)
        batch = rows[start:start + a.batch]
        padded += max(len(r["input_ids"]) for r in batch) * len(batch)
    print(json.dumps({
        "records": len(rows), "real_tokens": sum(len(r["input_ids"]) for r in rows),
        "padded_tokens_sequential": padded, "steps": result.global_step,
        "train_runtime_s": result.metrics.get("train_runtime"), "final_loss": result.training_loss,
        "process_s": round(time.perf_counter() - started, 2),
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
