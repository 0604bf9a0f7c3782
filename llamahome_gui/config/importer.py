"""``llamahome config import FILE``: bring in a config laid out the common way, in sections
``model / training / lora / data / serving / monitoring`` (YAML or TOML), mapped onto our
components. Keys with no home here are listed, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llamahome_gui.config.errors import ConfigError, ConfigValidationError, Issue, display_path
from llamahome_gui.config.store import locate, parse, read_text


def _choice(table: dict[str, str]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        return table.get(str(value).lower(), value) if value is not None else "none"
    return convert


_QUANT = _choice({"int8": "8bit", "8bit": "8bit", "8": "8bit", "int4": "4bit", "4bit": "4bit",
                  "4": "4bit", "nf4": "4bit", "fp4": "4bit", "none": "none", "false": "none",
                  "fp16": "none", "f16": "none", "bf16": "none", "fp32": "none"})
_DTYPE = _choice({"fp32": "float32", "float32": "float32", "fp16": "float16", "float16": "float16",
                  "half": "float16", "bf16": "bfloat16", "bfloat16": "bfloat16", "auto": "auto"})
_PRECISION = _choice({"fp16": "fp16", "float16": "fp16", "bf16": "bf16", "bfloat16": "bf16",
                      "no": "no", "none": "no", "fp32": "no", "false": "no", "auto": "auto"})

# (section, key) in the imported file -> (our key path, value converter)
_SAME: Callable[[Any], Any] = lambda v: v  # noqa: E731
MAPPING: dict[tuple[str, str], tuple[str, Callable[[Any], Any]]] = {}


def _map(section: str, keys: str, target: str, convert: Callable[[Any], Any] = _SAME) -> None:
    for key in keys.split():
        MAPPING[(section, key)] = (target, convert)


for _k in "name family size variant revision device trust_remote_code".split():
    _map("model", _k, f"model.model.{_k}")
_map("model", "path model_path local_path local_dir", "model.model.path")
_map("model", "quantization quant quantize", "model.model.quantization", _QUANT)
_map("model", "load_in_8bit", "model.model.quantization", lambda v: "8bit" if v else "none")
_map("model", "load_in_4bit", "model.model.quantization", lambda v: "4bit" if v else "none")
_map("model", "dtype torch_dtype precision", "model.model.dtype", _DTYPE)
_map("model", "max_sequence_length max_seq_len max_length context_length max_position_embeddings",
     "model.resources.max_sequence_length")
_map("model", "max_batch_size", "model.resources.max_batch_size")
_map("model", "min_gpu_memory", "model.resources.min_gpu_memory")
_map("training", "epochs num_epochs num_train_epochs", "training.training.num_train_epochs")
_map("training", "batch_size per_device_train_batch_size train_batch_size micro_batch_size",
     "training.training.per_device_train_batch_size")
_map("training", "gradient_accumulation_steps gradient_accumulation grad_accum",
     "training.training.gradient_accumulation_steps")
_map("training", "learning_rate lr", "training.training.learning_rate")
_map("training", "lr_scheduler lr_scheduler_type scheduler", "training.training.lr_scheduler")
_map("training", "mixed_precision", "training.training.mixed_precision", _PRECISION)
_map("training", "fp16", "training.training.mixed_precision", lambda v: "fp16" if v else "no")
_map("training", "bf16", "training.training.mixed_precision", lambda v: "bf16" if v else "no")
_map("training", "max_grad_norm grad_clip gradient_clipping", "training.training.max_grad_norm")
_map("training", "output_dir", "training.training.output_dir")
for _k in ("max_steps warmup_ratio weight_decay seed gradient_checkpointing eval_steps save_steps "
           "logging_steps early_stopping_patience early_stopping_min_delta max_seq_length "
           "packing").split():
    _map("training", _k, f"training.training.{_k}")
_map("lora", "r rank lora_r", "training.lora.r")
_map("lora", "alpha lora_alpha", "training.lora.lora_alpha")
_map("lora", "dropout lora_dropout", "training.lora.lora_dropout")
_map("lora", "target_modules targets modules", "training.lora.target_modules")
_map("lora", "bias", "training.lora.bias")
_map("data", "path train_path train_file dataset dataset_path train_data",
     "training.training.dataset_path")
_map("data", "format dataset_format", "training.training.dataset_format")
_map("data", "max_length max_seq_length max_seq_len", "training.training.max_seq_length")
_map("data", "eval_split validation_split val_split test_size", "training.training.eval_split")
_map("data", "packing", "training.training.packing")
for _k in "temperature top_p top_k repetition_penalty do_sample".split():
    _map("serving", _k, f"inference.generation.{_k}")
_map("serving", "max_new_tokens max_tokens", "inference.generation.max_new_tokens")
_map("serving", "system_prompt", "inference.chat.system_prompt")
_map("serving", "adapter adapter_path", "inference.chat.adapter_path")
for _k in "host port api_key max_concurrent_requests max_queue request_timeout cors_origins".split():
    _map("serving", _k, f"inference.serving.{_k}")
_map("monitoring", "log_level", "monitoring.logging.log_level", lambda v: str(v).upper())
_map("monitoring", "log_interval", "monitoring.logging.log_interval")
for _k in "tensorboard progress_bars".split():
    _map("monitoring", _k, f"monitoring.visualization.{_k}")
_map("monitoring", "check_interval interval", "resource.monitor.check_interval")
_map("monitoring", "memory_threshold", "resource.monitor.memory_threshold")
_map("monitoring", "cpu_threshold", "resource.monitor.cpu_threshold")


@dataclass
class ImportPlan:
    """What an import would set, and what it could not place."""

    source: Path
    values: dict[str, dict[str, Any]] = field(default_factory=dict)  # component -> {rel: value}
    origins: dict[str, str] = field(default_factory=dict)            # our key path -> source key
    lines: dict[str, int] = field(default_factory=dict)              # source key -> line
    unmapped: list[str] = field(default_factory=list)                # source keys with no home

    def issue_for(self, key_path: str, message: str, value: Any) -> Issue:
        origin = self.origins.get(key_path, "")
        return Issue(f"{message} (from {origin})" if origin else message, key_path=key_path,
                     value=value, has_value=True, file=display_path(self.source),
                     line=self.lines.get(origin))


def read_foreign(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """The file's data and the line of each dotted key."""
    if not path.is_file():
        raise ConfigError(f"{display_path(path)}: no such file")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        text = path.read_text(encoding="utf-8")
        try:
            data = yaml.safe_load(text) or {}
            lines = _yaml_lines(yaml.compose(text))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
            raise ConfigError(f"{display_path(path)}{where}: invalid YAML: "
                              f"{getattr(exc, 'problem', exc)}") from None
    else:
        text = read_text(path).text
        data = parse(text, path).unwrap()
        lines = {}
        for dotted in _dotted_keys(data):
            pos = locate(text, dotted.split("."))
            if pos:
                lines[dotted] = pos[0]
    if not isinstance(data, Mapping):
        raise ConfigError(f"{display_path(path)}: expected sections (model, training, lora, data, "
                          "serving, monitoring) at the top level")
    return dict(data), lines


def plan_import(path: Path) -> ImportPlan:
    data, lines = read_foreign(path)
    plan = ImportPlan(path, lines=lines)
    for section, body in data.items():
        if not isinstance(body, Mapping):
            plan.unmapped.append(str(section))
            continue
        for key, value in body.items():
            source = f"{section}.{key}"
            target = MAPPING.get((str(section), str(key)))
            if target is None:
                plan.unmapped.extend(_dotted_keys(value, source) if isinstance(value, Mapping)
                                     else [source])
                continue
            key_path, convert = target
            component, rel = key_path.split(".", 1)
            plan.values.setdefault(component, {})[rel] = convert(value)
            plan.origins[key_path] = source
    return plan


def _dotted_keys(data: Any, prefix: str = "") -> list[str]:
    if not isinstance(data, Mapping):
        return [prefix]
    out: list[str] = []
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        out.extend(_dotted_keys(value, dotted) if isinstance(value, Mapping) and value else [dotted])
    return out


def _yaml_lines(node: Any, prefix: str = "") -> dict[str, int]:
    out: dict[str, int] = {}
    for key_node, value_node in getattr(node, "value", []) if _is_mapping(node) else []:
        dotted = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
        out[dotted] = key_node.start_mark.line + 1
        out.update(_yaml_lines(value_node, dotted))
    return out


def _is_mapping(node: Any) -> bool:
    import yaml

    return isinstance(node, yaml.MappingNode)


@dataclass
class ImportResult:
    plan: ImportPlan
    changed: dict[str, list[str]] = field(default_factory=dict)
    diff: str = ""


def apply_import(cfg: Any, path: Path, *, dry_run: bool = False) -> ImportResult:
    """Check every mapped value against the schema, then write (or, dry, diff) them.

    Errors name the imported file, its line and the source key."""
    plan = plan_import(path)
    issues: list[Issue] = []
    for component, values in plan.values.items():
        try:
            cfg.plan(component, values)
        except ConfigValidationError as exc:
            issues.extend(plan.issue_for(i.key_path, i.message, i.value) if i.key_path in
                          plan.origins else i for i in exc.issues)
    if issues:
        raise ConfigValidationError(issues)
    result = ImportResult(plan)
    for component, values in plan.values.items():
        if dry_run:
            result.diff += cfg.preview_diff(component, values)
        else:
            result.changed[component] = cfg.update(component, values)
    return result
