"""Everything before the first step: the model folder, the data, LoRA, the device.

Each failure becomes a ``TrainingError`` that says what is wrong and how to fix it, so the
CLI and the GUI can show it without a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llamahome_gui import paths
from llamahome_gui.core.train.batching import Row, Sample, pack, split_eval, to_sample
from llamahome_gui.core.train.errors import TrainingError


@dataclass
class Prepared:
    """The data side of a run, ready for the loop."""

    dataset_path: Path
    dataset_format: str
    records: int
    train_rows: list[Row]
    eval_rows: list[Row]
    train_samples: int
    eval_samples: int
    truncated: int
    skipped: int
    train_tokens: int
    notes: list[str] = field(default_factory=list)


def dataset_path(training: Any) -> Path:
    raw = training.dataset_path.strip()
    path = Path(raw).expanduser() if raw else paths.SAMPLE_DATASET
    if path.is_dir():
        raise TrainingError(f"dataset {path} is a folder (training.training.dataset_path)",
                            hint="give a .json, .jsonl or .txt file inside it")
    if not path.is_file():
        where = "training.training.dataset_path" if raw else "the bundled sample dataset"
        raise TrainingError(f"dataset {path} does not exist ({where})",
                            hint="set training.training.dataset_path to a .json, .jsonl or .txt file")
    return path


def model_dir(model_section: Any, progress: Callable[[str], None] | None = None) -> Path:
    from llamahome_gui.core.models.loading import ModelNotFoundError, resolve_model_dir

    try:
        return resolve_model_dir(model_section.path, progress=progress)
    except ModelNotFoundError as exc:
        raise TrainingError(str(exc), hint="set model.model.path, e.g. llamahome train --set "
                            "model.model.path='\"/path/to/model\"'") from exc
    except Exception as exc:  # starter import failures carry their own how-to-fix text
        raise TrainingError(f"cannot prepare the model: {exc}") from exc


def set_threads(local_world: int) -> int:
    """CPU threads for this process: the cores we may use, shared among local ranks."""
    import torch

    from llamahome_gui.core.models.loading import usable_cores

    threads = max(1, usable_cores() // max(1, local_world))
    torch.set_num_threads(threads)
    return threads


def _samples(examples: list[Any]) -> tuple[list[Sample], int, int]:
    samples, truncated, skipped = [], 0, 0
    for ex in examples:
        truncated += bool(ex.truncated)
        sample = to_sample(ex.input_ids, ex.labels)
        if sample.counted == 0:
            skipped += 1
            continue
        samples.append(sample)
    return samples, truncated, skipped


def load_records(training: Any) -> Any:
    """Read and validate the dataset (before the model loads, so bad data fails fast)."""
    from llamahome_gui.core.data import DatasetError, load_dataset

    path = dataset_path(training)
    try:
        ds = load_dataset(path, training.dataset_format)
    except DatasetError as exc:
        raise TrainingError(f"the dataset has bad records:\n{exc}",
                            hint=f"fix the lines named above (llamahome data check {path})") from exc
    if not ds.records:
        raise TrainingError(f"{path} holds no records", hint="add some training examples")
    return ds


def prepare_data(training: Any, ds: Any, tokenizer: Any, system_prompt: str | None) -> Prepared:
    """Split, render and pack/group the dataset."""
    from llamahome_gui.core.data import TemplateError, render_examples

    path = ds.path
    train_idx, eval_idx = split_eval(len(ds.records), training.eval_split, training.seed)
    try:
        rendered = render_examples(ds.records, tokenizer, training.max_seq_length,
                                   system_prompt=system_prompt or None, locations=ds.locations)
    except TemplateError as exc:
        raise TrainingError(str(exc), hint="use an instruct/chat model, or text data") from exc
    train, trunc, skipped = _samples([rendered[i] for i in train_idx])
    evals, trunc_e, skipped_e = _samples([rendered[i] for i in eval_idx])
    if not train:
        raise TrainingError(
            f"{path}: no record has a trained token left after max_seq_length="
            f"{training.max_seq_length} truncation",
            hint="raise training.training.max_seq_length or shorten the prompts")
    # Packed rows are as long as the longest example: a batch has the shape a padded batch
    # of the longest examples would have, filled with more examples instead of padding.
    cap = min(training.max_seq_length, max(len(s.input_ids) for s in train + evals))
    if training.packing:
        train_rows, eval_rows = pack(train, cap), pack(evals, cap)
    else:
        train_rows, eval_rows = [Row([s]) for s in train], [Row([s]) for s in evals]
    notes = []
    if trunc + trunc_e:
        notes.append(f"{trunc + trunc_e} records were cut to max_seq_length="
                     f"{training.max_seq_length} tokens")
    if skipped + skipped_e:
        notes.append(f"{skipped + skipped_e} records have no answer tokens left and are skipped")
    return Prepared(
        dataset_path=path, dataset_format=ds.format, records=len(ds.records),
        train_rows=train_rows, eval_rows=eval_rows, train_samples=len(train),
        eval_samples=len(evals), truncated=trunc + trunc_e, skipped=skipped + skipped_e,
        train_tokens=sum(len(s.input_ids) for s in train), notes=notes)


def load_model(folder: Path, model_section: Any, device: str) -> tuple[Any, Any]:
    import torch

    from llamahome_gui.core.models.loading import load_model_and_tokenizer, pick_dtype

    dtype = pick_dtype(model_section.dtype, device)
    try:
        if model_section.quantization != "none":
            from llamahome_gui.core.train.quantize import load_quantized

            model, tokenizer = load_quantized(folder, model_section, device, dtype, False)
        else:
            model, tokenizer = load_model_and_tokenizer(
                folder, device=device, dtype=dtype,
                trust_remote_code=model_section.trust_remote_code)
    except (OSError, ValueError) as exc:
        raise TrainingError(f"cannot load the model in {folder}: {exc}",
                            hint="check model.model.path points to a Hugging Face model folder "
                            "with safetensors weights") from exc
    if dtype == torch.float16 and device == "cpu":
        model.float()
    model.config.use_cache = False
    return model, tokenizer


def configure_gpu(device: str, resource: Any) -> None:
    """Memory fraction, per-process cap and TF32 from the resource config."""
    import torch

    if not device.startswith("cuda"):
        return
    from llamahome_gui.config.schema import parse_size

    index = torch.device(device).index or 0
    total = torch.cuda.get_device_properties(index).total_memory
    fraction = resource.gpu.memory_fraction or 1.0
    cap = resource.gpu.per_process_memory.strip()
    if cap:
        fraction = min(fraction, parse_size(cap) / total)
    torch.cuda.set_per_process_memory_fraction(max(0.01, min(1.0, fraction)), index)
    torch.backends.cuda.matmul.allow_tf32 = bool(resource.gpu.enable_tf32)
    torch.backends.cudnn.allow_tf32 = bool(resource.gpu.enable_tf32)


def cpu_supports_bf16() -> bool:
    """Whether this CPU has native bf16 matrix instructions (AVX512-BF16 or AMX)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def autocast_dtype(training: Any, device: str) -> Any:
    """The autocast dtype for mixed precision, or None.

    On the CPU only bf16 is offered, and only where the CPU has bf16 instructions (without
    them autocast emulates it, slower than fp32).
    """
    import torch

    if training.mixed_precision == "no":
        return None
    if not device.startswith("cuda"):
        if device == "cpu" and training.mixed_precision == "bf16" and cpu_supports_bf16():
            return torch.bfloat16
        return None
    if training.mixed_precision == "fp16":
        return torch.float16
    if training.mixed_precision == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16
