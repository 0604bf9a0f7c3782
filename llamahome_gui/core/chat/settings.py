"""Generation settings taken from ``inference.generation.*`` and turned into ``generate`` kwargs."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from llamahome_gui.config.schema import GenerationSection


@dataclass(frozen=True)
class GenerationSettings:
    """The schema's generation section as a frozen value, safe to hand to another thread."""

    temperature: float = GenerationSection.model_fields["temperature"].default
    top_p: float = GenerationSection.model_fields["top_p"].default
    top_k: int = GenerationSection.model_fields["top_k"].default
    max_new_tokens: int = GenerationSection.model_fields["max_new_tokens"].default
    repetition_penalty: float = GenerationSection.model_fields["repetition_penalty"].default
    do_sample: bool = GenerationSection.model_fields["do_sample"].default

    @classmethod
    def from_section(cls, section: GenerationSection | Any) -> GenerationSettings:
        """From the pydantic section, or any object / mapping with the same names."""
        names = [f.name for f in fields(cls)]
        if isinstance(section, dict):
            values = {n: section[n] for n in names if n in section}
        else:
            values = {n: getattr(section, n) for n in names if hasattr(section, n)}
        validated = GenerationSection.model_validate({**GenerationSection().model_dump(), **values})
        return cls(**{n: getattr(validated, n) for n in names})

    def with_overrides(self, **overrides: Any) -> GenerationSettings:
        """A copy with the non-None overrides applied (the CLI flags), validated by the schema."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return GenerationSettings.from_section({**self.__dict__, **given}) if given else self

    @property
    def greedy(self) -> bool:
        """Temperature 0 means greedy, whatever ``do_sample`` says."""
        return not self.do_sample or self.temperature <= 0.0

    def generate_kwargs(self) -> dict[str, Any]:
        """Only the knobs that apply: greedy decoding gets no sampling parameters, so
        transformers does not warn about ignored ones."""
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens,
                                  "do_sample": not self.greedy}
        if self.repetition_penalty != 1.0:
            kwargs["repetition_penalty"] = self.repetition_penalty
        if not self.greedy:
            kwargs.update(temperature=self.temperature, top_p=self.top_p, top_k=self.top_k)
        return kwargs
