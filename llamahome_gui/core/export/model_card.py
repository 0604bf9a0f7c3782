"""The model card (README.md) that goes with an exported PEFT adapter: which base it needs, what
it was trained on, with which settings, and how well it did."""

from __future__ import annotations

from pathlib import Path

from llamahome_gui.core.export.sources import ExportSource


def _final_eval_loss(run_dir: Path) -> float | None:
    from llamahome_gui.core.runs import read_events
    from llamahome_gui.core.runs.events import Evaluated

    evals = [e.eval_loss for e in read_events(run_dir)
             if isinstance(e, Evaluated) and e.eval_loss is not None]
    return float(evals[-1]) if evals else None


def model_card(source: ExportSource, name: str) -> str:
    """Markdown: base model, data, settings, final train and eval loss (from the run, if any)."""
    lines = [f"# {name}", "", "A LoRA adapter trained with LlamaHome.", "",
             f"- Base model: `{source.model_dir}`"]
    if source.run_dir is not None:
        from llamahome_gui.core.runs import read_run_config, run_info

        info = run_info(source.run_dir)
        try:
            configs = read_run_config(source.run_dir)
        except (FileNotFoundError, ValueError):
            configs = {}
        if "training" in configs:
            t, lora = configs["training"].training, configs["training"].lora
            schedule = (f"{t.max_steps} steps" if t.max_steps else f"{t.num_train_epochs:g} epochs")
            lines += [f"- Data: `{t.dataset_path or 'the bundled sample dataset'}` "
                      f"({t.dataset_format})",
                      f"- Settings: LoRA r={lora.r}, alpha={lora.lora_alpha:g}, "
                      f"dropout={lora.lora_dropout:g}, targets {', '.join(lora.target_modules)}; "
                      f"learning rate {t.learning_rate:g}, {schedule}, batch "
                      f"{t.per_device_train_batch_size} x {t.gradient_accumulation_steps}, "
                      f"max length {t.max_seq_length}"]
        if "inference" in configs and configs["inference"].chat.system_prompt.strip():
            lines.append(f"- System prompt used in training: "
                         f"\"{configs['inference'].chat.system_prompt}\"")
        lines.append(f"- Run: `{source.run_dir.name}` ({info.status}, {info.steps} steps)")
        if info.final_loss is not None:
            lines.append(f"- Final training loss: {info.final_loss:.4f}")
        eval_loss = _final_eval_loss(source.run_dir)
        lines.append(f"- Final eval loss: {eval_loss:.4f}" if eval_loss is not None
                     else "- Final eval loss: not measured (no evaluation split)")
    lines += ["", "## Use", "", "```python",
              "from peft import PeftModel",
              "from transformers import AutoModelForCausalLM",
              f"base = AutoModelForCausalLM.from_pretrained(\"{source.model_dir}\")",
              "model = PeftModel.from_pretrained(base, \"<this folder>\")",
              "```", ""]
    return "\n".join(lines)
