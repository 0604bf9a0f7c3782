"""Environment overrides: ``LLAMAHOME_<SECTION>_<KEY>`` and
``LLAMAHOME__<COMPONENT>__<SECTION>__<KEY>``.

Resolved against the schema, parsed to the field's type and validated; they change what
``load`` returns and are never written to a file. The short form must name exactly one key:
a name matching several is an error that lists them with their explicit spelling.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from llamahome_gui.config.errors import Issue, rule_text
from llamahome_gui.config.introspect import adapter, leaves, parse_env, suggest

PREFIX = "LLAMAHOME_"
EXPLICIT_PREFIX = "LLAMAHOME__"
# The app's own variables (paths.py, tests): never config overrides.
RESERVED = frozenset({"LLAMAHOME_CONFIG_HOME", "LLAMAHOME_DATA_HOME", "LLAMAHOME_CACHE_HOME",
                      "LLAMAHOME_TEST_CACHE"})
_NOT_OVERRIDABLE = frozenset({"schema_version"})


@dataclass(frozen=True)
class EnvOverride:
    """One value taken from the environment. ``str()`` is the variable's name."""

    var: str
    raw: str
    key_path: str           # component.section.key
    value: Any              # parsed and validated

    @property
    def component(self) -> str:
        return self.key_path.split(".", 1)[0]

    def __str__(self) -> str:
        return self.var


@dataclass
class EnvScan:
    overrides: dict[str, EnvOverride] = field(default_factory=dict)
    # (components the problem belongs to, problem); empty set = not tied to one component
    errors: list[tuple[frozenset[str], Issue]] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    def for_component(self, component: str) -> dict[str, EnvOverride]:
        return {k: v for k, v in self.overrides.items() if v.component == component}

    def errors_for(self, component: str) -> list[Issue]:
        return [issue for comps, issue in self.errors if component in comps]


def explicit_name(key_path: str) -> str:
    """``resource.gpu.memory_fraction`` -> ``LLAMAHOME__RESOURCE__GPU__MEMORY_FRACTION``."""
    return EXPLICIT_PREFIX + "__".join(p.upper() for p in key_path.split("."))


def short_name(key_path: str) -> str:
    """``resource.gpu.memory_fraction`` -> ``LLAMAHOME_GPU_MEMORY_FRACTION``."""
    return PREFIX + "_".join(p.upper() for p in key_path.split(".")[1:])


def scan(env: Mapping[str, str], models: Mapping[str, type[BaseModel]]) -> EnvScan:
    """Every override in ``env`` for the given components, with the problems found."""
    result = EnvScan()
    fields = {c: {k: i for k, i in leaves(m).items() if k not in _NOT_OVERRIDABLE}
              for c, m in models.items()}
    short: dict[str, list[str]] = {}
    for component, leaf in fields.items():
        for rel in leaf:
            short.setdefault(rel.replace(".", "_"), []).append(f"{component}.{rel}")
    explicit: list[tuple[str, str, str]] = []
    for name in sorted(env):
        if not name.startswith(PREFIX) or name in RESERVED:
            continue
        if name.startswith(EXPLICIT_PREFIX):
            parts = name[len(EXPLICIT_PREFIX):].lower().split("__")
            component, rel = parts[0], ".".join(parts[1:])
            if component not in fields:
                result.errors.append((frozenset(), Issue(
                    f"no config component {component!r}{suggest(component, fields)} "
                    f"(known: {', '.join(fields)})", env_var=name)))
            elif rel not in fields[component]:
                close = difflib.get_close_matches(rel, list(fields[component]), n=1, cutoff=0.6)
                hint = f"; did you mean {explicit_name(f'{component}.{close[0]}')}?" if close \
                    else ""
                result.errors.append((frozenset({component}), Issue(
                    f"{component} has no key {rel!r}{hint}", env_var=name)))
            else:
                explicit.append((name, component, rel))
            continue
        candidates = short.get(name[len(PREFIX):].lower(), [])
        if not candidates:
            result.warnings.append(Issue("not a config key, ignored (explicit form: "
                                         "LLAMAHOME__<COMPONENT>__<SECTION>__<KEY>)",
                                         env_var=name, severity="warning"))
        elif len(candidates) > 1:
            names = ", ".join(f"{c} ({explicit_name(c)})" for c in candidates)
            result.errors.append((frozenset(c.split(".", 1)[0] for c in candidates), Issue(
                f"ambiguous: it matches {names}; set the explicit variable instead",
                env_var=name)))
        else:
            component, rel = candidates[0].split(".", 1)
            _add(result, name, env[name], component, rel, fields[component][rel])
    for name, component, rel in explicit:  # the explicit form wins over the short one
        _add(result, name, env[name], component, rel, fields[component][rel])
    return result


def _add(result: EnvScan, var: str, raw: str, component: str, rel: str, info: Any) -> None:
    key_path = f"{component}.{rel}"
    parsed = parse_env(raw, info)
    try:
        value = adapter(info).validate_python(parsed)
    except ValidationError as exc:
        for err in exc.errors():
            result.errors.append((frozenset({component}), Issue(
                rule_text(err), key_path=key_path, value=parsed, has_value=True, env_var=var)))
        return
    result.overrides[key_path] = EnvOverride(var, raw, key_path, value)
