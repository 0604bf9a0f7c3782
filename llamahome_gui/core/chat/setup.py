"""What a chat needs from the config files, with overrides laid on top, plus adapter discovery.

The CLI and the Chat page both start from here, so they load the same model the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from llamahome_gui.core.chat.settings import GenerationSettings


@dataclass(frozen=True)
class ChatSetup:
    model_path: str = ""        # "" = the bundled starter model
    device: str = "auto"
    dtype: str = "auto"
    trust_remote_code: bool = False
    max_sequence_length: int = 2048
    adapter_path: str = ""      # "" = the base model
    system_prompt: str = ""
    history_dir: str = ""
    decode_precision: str = "auto"  # inference.chat.decode_precision
    decode_engine: str = "auto"     # inference.chat.decode_engine
    settings: GenerationSettings = field(default_factory=GenerationSettings)

    @classmethod
    def from_configs(cls, model: Any, inference: Any) -> ChatSetup:
        """From the validated ``model`` and ``inference`` components."""
        return cls(model_path=model.model.path, device=model.model.device, dtype=model.model.dtype,
                   trust_remote_code=model.model.trust_remote_code,
                   max_sequence_length=model.resources.max_sequence_length,
                   adapter_path=inference.chat.adapter_path,
                   system_prompt=inference.chat.system_prompt,
                   history_dir=inference.chat.history_dir,
                   decode_precision=inference.chat.decode_precision,
                   decode_engine=inference.chat.decode_engine,
                   settings=GenerationSettings.from_section(inference.generation))

    @classmethod
    def from_values(cls, model: dict[str, Any], inference: dict[str, Any]) -> ChatSetup:
        """From nested ``{section: {key: value}}`` values (the window's edit state); a bad value
        raises ValueError naming its key path."""
        from pydantic import ValidationError

        from llamahome_gui.config.schema import InferenceConfig, ModelConfig

        for component, cls_, values in (("model", ModelConfig, model),
                                        ("inference", InferenceConfig, inference)):
            try:
                validated = cls_.model_validate(values)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join([component, *map(str, first["loc"])])
                raise ValueError(f"Fix the setting {where}: {first['msg']}") from None
            if component == "model":
                model_config = validated
        return cls.from_configs(model_config, validated)

    def load_key(self) -> tuple:
        """What, when changed, needs the base model loaded again (an adapter change does not)."""
        return (self.model_path, self.device, self.dtype, self.trust_remote_code,
                self.max_sequence_length, self.decode_precision, self.decode_engine)

    @classmethod
    def from_manager(cls, manager: Any) -> ChatSetup:
        return cls.from_configs(manager.load("model"), manager.load("inference"))

    def with_overrides(self, **changes: Any) -> ChatSetup:
        """A copy with the non-None values replaced (command-line flags)."""
        given = {k: v for k, v in changes.items() if v is not None}
        return replace(self, **given) if given else self

    def load_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :meth:`ChatEngine.load`."""
        return {"device": self.device, "dtype": self.dtype, "adapter": self.adapter_path or None,
                "trust_remote_code": self.trust_remote_code,
                "max_sequence_length": self.max_sequence_length,
                "decode_precision": self.decode_precision, "decode_engine": self.decode_engine}


@dataclass(frozen=True)
class AdapterChoice:
    label: str
    path: Path


def find_adapters(output_dir: str | Path | None = "") -> list[AdapterChoice]:
    """Adapters of finished (or stopped) runs under ``training.training.output_dir`` (empty =
    the user's runs folder), newest first."""
    from llamahome_gui import paths

    try:
        from llamahome_gui.core.runs import list_runs
    except ImportError:  # runs module absent: look for adapter folders directly
        root = Path(output_dir).expanduser() if output_dir and str(output_dir).strip() \
            else paths.runs_dir()
        found = sorted(root.glob("*/adapter/adapter_config.json"), reverse=True)
        return [AdapterChoice(p.parent.parent.name, p.parent) for p in found]
    choices = []
    for run in list_runs(output_dir or None):
        if run.adapter is not None and (Path(run.adapter) / "adapter_config.json").is_file():
            detail = f" · loss {run.final_loss:.3f}" if run.final_loss is not None else ""
            choices.append(AdapterChoice(f"{run.name} ({run.status}{detail})", Path(run.adapter)))
    return choices


def run_model_path(adapter: str | Path) -> str | None:
    """The model a run trained its adapter on (``model.model.path`` in the run's config
    snapshot), or None when the adapter is not in a run folder or the snapshot is unreadable."""
    from llamahome_gui.core.runs import RUN_CONFIG

    run_dir = Path(adapter).parent
    if not (run_dir / RUN_CONFIG).is_file():
        return None
    try:
        from llamahome_gui.core.runs import read_run_config

        return str(read_run_config(run_dir)["model"].model.path)
    except Exception:  # noqa: BLE001 - an unreadable snapshot just means "unknown"
        return None
