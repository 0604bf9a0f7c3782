"""The pydantic schema: the one source of defaults, limits and help text.

Every component (one TOML file each) is a model whose fields are sections; every
section is a model whose fields are keys. Forms, schema files, the CLI and the
engine all read these classes; nothing else repeats a default or a bound.

Editor hints for the forms travel in ``json_schema_extra``:
``{"widget": "path", "path_kind": "file" | "dir"}``, ``{"widget": "size"}``,
``{"widget": "scientific"}``, ``{"unit": "GiB"}``; ``{"informational": True}`` marks a field
that describes something for the reader and that no code acts on (the form says so).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

SCHEMA_VERSION = 1

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$", re.IGNORECASE)
_SIZE_FACTORS = {
    "B": 1,
    "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
    "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40,
}


def parse_size(text: str) -> int:
    """Bytes in a size string such as ``"12GB"``, ``"512 MiB"`` or ``"1024"``."""
    match = _SIZE_RE.match(text)
    if not match:
        raise ValueError(
            f"{text!r} is not a size: write a number and a unit, e.g. \"12GB\" or \"512MiB\""
        )
    number, unit = match.groups()
    return int(float(number) * _SIZE_FACTORS[(unit or "B").upper()])


def _check_size(text: str) -> str:
    if text.strip():
        parse_size(text)
    return text


def _check_device(text: str) -> str:
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", text):
        raise ValueError(f"{text!r} is not a device: use auto, cpu, mps, cuda or cuda:N")
    return text


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


SizeStr = Annotated[str, AfterValidator(_check_size)]
DeviceStr = Annotated[str, AfterValidator(_check_device)]
StrList = Annotated[list[str], BeforeValidator(_one_or_many)]


def path_field(default: str, description: str, kind: Literal["file", "dir"],
               advanced: bool = False, placeholder: str = "", **kw: Any) -> Any:
    extra: dict[str, Any] = {"widget": "path", "path_kind": kind}
    if placeholder:  # what an empty field means, short enough for a narrow field
        extra["placeholder"] = placeholder
    if advanced:
        extra["advanced"] = True
    return Field(default, description=description, json_schema_extra=extra, **kw)


class Section(BaseModel):
    """A TOML table. Unknown keys are ignored here; the store keeps and reports them."""

    model_config = ConfigDict(extra="ignore", validate_assignment=True)


class Component(BaseModel):
    """A whole config file."""

    model_config = ConfigDict(extra="ignore", validate_assignment=True)

    schema_version: int = Field(SCHEMA_VERSION, ge=1, description="Version of this file's layout; "
                                "older files are migrated on load.")


# --------------------------------------------------------------------------- model

class ModelSection(Section):
    name: str = Field("SmolLM2-135M-Instruct", description="Display name of the model.")
    family: str = Field("llama", description="Model family, e.g. llama, mistral, qwen. "
                        "Informational: the model's own config.json decides how it is loaded.",
                        json_schema_extra={"informational": True})
    size: str = Field("135M", description="Parameter count as written by the publisher, e.g. 135M, 7B.")
    variant: str = Field("instruct", description="base, instruct or chat. Informational: the "
                         "chat template in the model folder decides how prompts are written.",
                         json_schema_extra={"informational": True})
    revision: str = Field("main", description="Revision (branch, tag or commit) the model files "
                          "came from. Informational: the app reads the local folder and downloads "
                          "nothing.", json_schema_extra={"informational": True})
    quantization: Literal["none", "8bit", "4bit"] = Field(
        "none", description="Load the base weights quantized (8bit/4bit need bitsandbytes and a GPU).")
    path: str = path_field("", "Local model folder (Hugging Face layout). "
                           "Empty = the bundled starter model (SmolLM2-135M-Instruct).", "dir")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="Weight dtype: auto = bfloat16 on a GPU that supports it, else float32.")
    device: DeviceStr = Field("auto", description="Where to run: auto, cpu, cuda or cuda:N.")
    trust_remote_code: bool = Field(
        False, description="Run Python code shipped with the model. Only for models you trust; "
        "it counts only in your own config folder (elsewhere add --trust-remote-code).")


class ModelResources(Section):
    min_gpu_memory: float = Field(0.0, ge=0.0, le=1024.0, description="GPU memory the model needs, "
                                  "in GiB; a run on a machine without that much GPU memory is "
                                  "flagged before it starts (0 = no requirement).",
                                  json_schema_extra={"unit": "GiB"})
    max_batch_size: int = Field(8, ge=1, le=1024, description="Largest batch size per device a run "
                                "may use; a larger one is flagged before the run starts.")
    max_sequence_length: int = Field(2048, ge=16, le=131072, description="Longest context, in tokens, "
                                     "used for chat and training.", json_schema_extra={"unit": "tokens"})


class ModelConfig(Component):
    model: ModelSection = Field(default_factory=ModelSection, description="Which model to load and how.")
    resources: ModelResources = Field(default_factory=ModelResources,
                                      description="What the model needs from the machine.")


# ------------------------------------------------------------------------ training

# Fields a first run can leave alone: forms fold them into an "Advanced" part.
ADVANCED = {"advanced": True}


class TrainingSection(Section):
    dataset_path: str = path_field("", "Training data: .json/.jsonl/.txt. Empty = the bundled "
                                   "sample dataset.", "file", placeholder="sample dataset")
    dataset_format: Literal["auto", "alpaca", "chat", "text", "preference"] = Field(
        "auto", description="Record layout: alpaca (instruction/input/output), chat (messages or "
        "ShareGPT conversations), text (plain text), preference (a prompt with chosen and "
        "rejected answers, for DPO). auto = detect from the file.")
    method: Literal["sft", "dpo"] = Field(
        "sft", description="sft = learn the answers in the data; dpo = learn to prefer the chosen "
        "answer over the rejected one (needs preference data; see [dpo]).")
    output_dir: str = path_field("", "Folder where run folders are created. Empty = the "
                                 "'runs' folder in the user data folder.", "dir", advanced=True,
                                 placeholder="runs in the data folder")
    num_train_epochs: float = Field(3.0, gt=0.0, le=1000.0, description="Passes over the training data "
                                    "(ignored when max_steps > 0).")
    max_steps: int = Field(0, ge=0, le=10_000_000, description="Optimizer steps to run; 0 = use epochs.")
    per_device_train_batch_size: int = Field(4, ge=1, le=1024, description="Sequences per batch on "
                                             "each device.")
    gradient_accumulation_steps: int = Field(1, ge=1, le=1024, description="Batches summed before each "
                                             "optimizer step (effective batch = batch size x this).",
                                             json_schema_extra=ADVANCED)
    learning_rate: float = Field(2e-4, gt=0.0, le=1.0, description="Peak learning rate of the optimizer.",
                                 json_schema_extra={"widget": "scientific"})
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup", "polynomial",
                          "cosine_with_restarts"] = Field(
        "cosine", description="How the learning rate changes after warm-up.",
        json_schema_extra=ADVANCED)
    warmup_ratio: float = Field(0.03, ge=0.0, le=0.5, description="Fraction of steps spent warming the "
                                "learning rate up from 0.", json_schema_extra=ADVANCED)
    weight_decay: float = Field(0.0, ge=0.0, le=1.0, description="AdamW weight decay.",
                                json_schema_extra=ADVANCED)
    max_grad_norm: float = Field(1.0, ge=0.0, le=1000.0, description="Clip gradients to this norm; "
                                 "0 = no clipping.", json_schema_extra=ADVANCED)
    max_seq_length: int = Field(512, ge=16, le=131072, description="Longest training sequence, in tokens; "
                                "longer records are truncated.", json_schema_extra={"unit": "tokens"})
    packing: bool = Field(True, description="Pack several short examples into one row (attention does "
                          "not cross examples), so no compute is spent on padding.")
    eval_split: float = Field(0.1, ge=0.0, le=0.5, description="Fraction of records held out for "
                              "evaluation; 0 = no evaluation.")
    eval_steps: int = Field(50, ge=1, le=1_000_000, description="Evaluate every this many steps.",
                            json_schema_extra=ADVANCED)
    save_steps: int = Field(100, ge=1, le=1_000_000, description="Save a checkpoint every this many steps.",
                            json_schema_extra=ADVANCED)
    logging_steps: int = Field(1, ge=1, le=1_000_000, description="Log loss every this many steps.",
                               json_schema_extra=ADVANCED)
    seed: int = Field(42, ge=0, le=2**32 - 1, description="Random seed for data order and initialisation.",
                      json_schema_extra=ADVANCED)
    gradient_checkpointing: bool = Field(False, description="Recompute activations in the backward pass: "
                                         "less memory, about 30% slower.")
    mixed_precision: Literal["auto", "no", "fp16", "bf16"] = Field(
        "auto", description="Compute precision: auto = bf16 on a GPU that supports it, else fp16; "
        "fp32 on the CPU (bf16 measured slower there); bf16 on a CPU with bf16 instructions "
        "uses autocast.", json_schema_extra=ADVANCED)
    early_stopping_patience: int = Field(0, ge=0, le=1000, description="Stop after this many evaluations "
                                         "without improvement; 0 = never stop early.",
                                         json_schema_extra=ADVANCED)
    early_stopping_min_delta: float = Field(0.0, ge=0.0, le=10.0, description="Smallest eval-loss drop "
                                            "that counts as an improvement.",
                                            json_schema_extra=ADVANCED)
    num_processes: int = Field(1, ge=0, le=64, description="Training processes on this machine: "
                               "above 1 the run starts under torchrun by itself (gloo on a CPU, "
                               "NCCL on GPUs); 0 = one per selected GPU (1 on a CPU).")
    sample_prompts: StrList = Field(
        default_factory=list, description="Prompts answered (greedy) with the current adapter at "
        "every evaluation and at the end, shown on the Train page; empty = two prompts from the "
        "held-out records.")
    sample_max_new_tokens: int = Field(48, ge=0, le=1024, description="Longest sample answer, in "
                                       "tokens; 0 = no sample answers.",
                                       json_schema_extra={"unit": "tokens"})


class LoraSection(Section):
    r: int = Field(16, ge=1, le=1024, title="LoRA rank", description="Rank of the LoRA update matrices: "
                   "higher learns more, costs more memory.")
    lora_alpha: float = Field(32.0, gt=0.0, le=4096.0, title="LoRA alpha",
                              description="Scale of the LoRA update (effective scale = alpha / r).")
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0, title="LoRA dropout",
                                description="Dropout on the LoRA input.", json_schema_extra=ADVANCED)
    target_modules: StrList = Field(
        default_factory=lambda: ["all-linear"], min_length=1,
        description="Layer names to adapt, e.g. q_proj, v_proj; \"all-linear\" = every linear layer "
        "except the output head.", json_schema_extra=ADVANCED)
    bias: Literal["none", "all", "lora_only"] = Field("none", description="Which biases to train.",
                                                     json_schema_extra=ADVANCED)
    use_dora: bool = Field(False, title="DoRA", description="Weight-decomposed LoRA: learns a "
                           "magnitude per output as well; often better at low rank, about 2x "
                           "slower per step.")
    use_rslora: bool = Field(False, title="rsLoRA", description="Rank-stabilized scale alpha / "
                             "sqrt(r) instead of alpha / r, so high ranks keep learning.")


class DpoSection(Section):
    beta: float = Field(0.1, gt=0.0, le=10.0, description="How far the adapter may move from the "
                        "reference: lower = bolder preferences, higher = closer to the reference.")
    loss: Literal["sigmoid", "ipo", "hinge"] = Field(
        "sigmoid", description="sigmoid = the DPO paper's loss; ipo = squared, less prone to "
        "overfitting small sets; hinge = margin loss.")
    reference: Literal["base", "none"] = Field(
        "base", description="base = the base model without the adapter (log-probs computed "
        "without gradients); none = reference-free (log-probs of 0).")


class TrainingConfig(Component):
    training: TrainingSection = Field(default_factory=TrainingSection, description="The run: data, "
                                      "schedule, evaluation and checkpoints.")
    lora: LoraSection = Field(default_factory=LoraSection, description="The LoRA adapter.")
    dpo: DpoSection = Field(default_factory=DpoSection, description="Preference tuning "
                            "(training.training.method = dpo).")


# ----------------------------------------------------------------------- inference

class GenerationSection(Section):
    temperature: float = Field(0.7, ge=0.0, le=2.0, description="Randomness of sampling; 0 = greedy.")
    top_p: float = Field(0.9, gt=0.0, le=1.0, description="Sample from the smallest set of tokens whose "
                         "probabilities add up to this.")
    top_k: int = Field(50, ge=0, le=1000, description="Sample from the k most likely tokens; 0 = no limit.")
    max_new_tokens: int = Field(256, ge=1, le=32768, description="Longest answer, in tokens.",
                                json_schema_extra={"unit": "tokens"})
    repetition_penalty: float = Field(1.1, ge=1.0, le=2.0, description="Penalty on repeating tokens; "
                                      "1.0 = none.")
    do_sample: bool = Field(True, description="Sample; off = always pick the most likely token.")


class ChatSection(Section):
    system_prompt: str = Field("You are a helpful assistant.", description="Instructions given to the "
                               "model before every conversation.", json_schema_extra={"widget": "text"})
    adapter_path: str = path_field("", "LoRA adapter folder to chat with; empty = the base model.", "dir")
    history_dir: str = path_field("", "Where conversations are saved; empty = the user data folder.",
                                  "dir")
    decode_engine: Literal["auto", "torch", "llama.cpp"] = Field(
        "auto", description="What computes chat answers on a CPU: llama.cpp (a GGUF copy of the "
        "model, made once; needs the optional llama-cpp-python), torch, or auto = llama.cpp where "
        "it is installed and knows the model's architecture, else torch (and torch for float32).")
    decode_precision: Literal["auto", "float32", "float16", "int8"] = Field(
        "auto", description="How chat holds the weights on a CPU. auto = float16 (answers match "
        "float32 on 99.8% of tokens; torch: where the CPU has fp16 kernels, else float32). int8 = "
        "llama.cpp's q8_0, 2.5-3x faster than float16, changes about 1 token in 30 (torch's int8: "
        "1 in 6).")


class ServingSection(Section):
    host: str = Field("127.0.0.1", description="Address the OpenAI-compatible server "
                      "listens on; 127.0.0.1 = this computer only. Any other address needs api_key.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port of the server.")
    api_key: str = Field("", description="Key clients must send (Authorization: Bearer KEY); empty = "
                         "none. A secret: better given as LLAMAHOME_SERVING_API_KEY than saved here.")
    max_concurrent_requests: int = Field(8, ge=1, le=256, description="Requests answered at the same "
                                         "time (their tokens interleave on the one model).")
    max_queue: int = Field(32, ge=0, le=4096, description="Requests waiting for a free slot; one more "
                           "is refused with 429.")
    request_timeout: float = Field(300.0, gt=0.0, le=86400.0, description="Longest a request may take, "
                                   "waiting included, before it is ended (timeout error).",
                                   json_schema_extra={"unit": "s"})
    cors_origins: StrList = Field(default_factory=list, description="Web origins allowed to call the "
                                  "server from a browser (e.g. http://localhost:3000); empty = none.")


class InferenceConfig(Component):
    generation: GenerationSection = Field(default_factory=GenerationSection,
                                          description="How answers are sampled.")
    chat: ChatSection = Field(default_factory=ChatSection, description="Chat behaviour and history.")
    serving: ServingSection = Field(default_factory=ServingSection,
                                    description="The OpenAI-compatible server (llamahome serve).")


# ------------------------------------------------------------------------ resource

class GpuSection(Section):
    memory_fraction: float = Field(0.9, ge=0.0, le=1.0, description="Largest share of each GPU's memory "
                                   "a run may use.")
    allow_growth: bool = Field(True, description="Let the trainer's GPU memory pool grow in "
                               "place as needed (PyTorch expandable segments) instead of reserving "
                               "fixed blocks: less fragmentation, fewer out-of-memory errors.")
    per_process_memory: SizeStr = Field("12GB", description="Memory cap per process, e.g. \"12GB\"; "
                                        "empty = no cap.", json_schema_extra={"widget": "size"})
    enable_tf32: bool = Field(True, description="Use TF32 matrix maths on Ampere and newer GPUs.")
    cuda_devices: list[int] = Field(default_factory=list, description="GPU indices (as nvidia-smi "
                                    "numbers them) the trainer runs on and the monitor shows; "
                                    "empty = all visible GPUs.")


class MonitorSection(Section):
    check_interval: float = Field(1.0, gt=0.0, le=3600.0, description="Seconds between resource samples.",
                                  json_schema_extra={"unit": "s"})
    memory_threshold: float = Field(0.9, ge=0.0, le=1.0, description="Alert when RAM or GPU memory use "
                                    "passes this fraction.")
    cpu_threshold: float = Field(0.8, ge=0.0, le=1.0, description="Alert when CPU use passes this fraction.")
    gpu_temp_threshold: float = Field(85.0, ge=0.0, le=150.0, description="Alert when a GPU is hotter "
                                      "than this, in °C.", json_schema_extra={"unit": "°C"})
    alert_on_threshold: bool = Field(True, description="Raise alerts when a threshold is crossed.")
    collect_metrics: bool = Field(True, description="Keep samples for the graphs and the metrics files.")


class ResourceConfig(Component):
    gpu: GpuSection = Field(default_factory=GpuSection, description="GPU use limits.")
    monitor: MonitorSection = Field(default_factory=MonitorSection, description="Resource sampling "
                                    "and alert thresholds.")


# ------------------------------------------------------------------------- metrics

MetricName = Literal["cpu", "memory", "gpu", "throughput"]


class StorageSection(Section):
    storage_type: Literal["local", "none"] = Field("local", description="Where samples are kept: local "
                                                   "files, or none.")
    retention_days: int = Field(30, ge=0, le=36500, description="Delete metric files older than this; "
                                "0 = keep forever.", json_schema_extra={"unit": "days"})
    compression: bool = Field(False, description="Gzip metric files as they are rotated.")
    export_format: Literal["csv", "jsonl", "parquet"] = Field(
        "csv", description="File format of saved samples (parquet needs pyarrow).")


class MetricsSection(Section):
    enabled_metrics: list[MetricName] = Field(
        default_factory=lambda: ["cpu", "memory", "gpu", "throughput"],
        description="Which series are recorded.")
    aggregation_interval: float = Field(60.0, gt=0.0, le=86400.0, description="Seconds of samples "
                                        "averaged into one stored row.", json_schema_extra={"unit": "s"})


class MetricsConfig(Component):
    storage: StorageSection = Field(default_factory=StorageSection, description="Where metrics go.")
    metrics: MetricsSection = Field(default_factory=MetricsSection, description="What is recorded.")


# ---------------------------------------------------------------------- monitoring

class LoggingSection(Section):
    log_interval: int = Field(10, ge=1, le=1_000_000, description="Training steps between progress "
                              "lines in the run's trainer.log and in the terminal when there is "
                              "no progress bar (events.jsonl and the graphs get every step).")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Least severe "
                                                                     "message written to the app's "
                                                                     "log file (logs/llamahome-"
                                                                     "gui.log in the data folder).")


class VisualizationSection(Section):
    tensorboard: bool = Field(True, description="Write TensorBoard logs in each run folder.")
    progress_bars: bool = Field(True, description="Show progress bars in the terminal.")


class AlertsSection(Section):
    enabled: bool = Field(True, description="Show alerts at all.")
    alert_on_error: bool = Field(True, description="Alert (through the notification backend) when "
                                 "a run fails; off = only the status bar and the log say so.")
    notification_backend: Literal["desktop", "statusbar", "log", "console", "none"] = Field(
        "desktop", description="Where alerts go: desktop notifications, the status bar only, the log "
        "only, the terminal (console), or nowhere.")


class MonitoringConfig(Component):
    logging: LoggingSection = Field(default_factory=LoggingSection, description="Logging.")
    visualization: VisualizationSection = Field(default_factory=VisualizationSection,
                                                description="Graphs and progress display.")
    alerts: AlertsSection = Field(default_factory=AlertsSection, description="Alerts.")


COMPONENTS: dict[str, type[Component]] = {
    "model": ModelConfig,
    "training": TrainingConfig,
    "inference": InferenceConfig,
    "resource": ResourceConfig,
    "metrics": MetricsConfig,
    "monitoring": MonitoringConfig,
}
