"""ConfigManager: the runtime API over one config folder.

``load`` gives validated pydantic models (schema defaults for anything missing, environment
overrides applied); ``update`` validates and writes only the changed keys back into the
user's own TOML document, so comments and layout survive; ``preview_diff`` shows what a save
would change without writing. Errors are :class:`ConfigError` with one line per problem.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import tomlkit
from pydantic import ValidationError

from llamahome_gui import paths
from llamahome_gui.config import env as envmod
from llamahome_gui.config.errors import (
    ConfigError,
    ConfigValidationError,
    Issue,
    display_path,
    rule_text,
)
from llamahome_gui.config.introspect import adapter, default_of, leaves, suggest
from llamahome_gui.config.presets import Preset, find_presets, read_preset, unknown_preset
from llamahome_gui.config.schema import COMPONENTS, Component
from llamahome_gui.config.schema_files import SchemaFileError, model_from_schema
from llamahome_gui.config.store import (
    atomic_write,
    file_lock,
    get_value,
    parse,
    set_value,
    unified_diff,
)
from llamahome_gui.config.validation import Checked, FileState, read_state, validate

__all__ = ["ConfigManager", "atomic_write", "resolve_config_dir"]

_MISSING = object()


def resolve_config_dir(config_dir: Path | str | None = None) -> Path:
    """The folder to use: the given one, else ``./config`` if present, else the user's
    config folder (created from the shipped defaults on first use)."""
    if config_dir is not None:
        return Path(config_dir)
    local = Path.cwd() / "config"
    if local.is_dir() and any(local.glob("*_config.toml")):
        return local
    user = paths.user_config_dir()
    if not any(user.glob("*_config.toml")):
        shutil.copytree(paths.SHIPPED_CONFIG_DIR, user, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("*.bak", ".*.tmp", ".*.lock"))
    return user


class ConfigManager:
    """Load, validate, edit and preview the config files of one folder."""

    def __init__(self, config_dir: Path | str | None = None, *,
                 env: Mapping[str, str] | None = None) -> None:
        self.config_dir = resolve_config_dir(config_dir)
        self._env = env
        self._dynamic: tuple[tuple[Any, ...], dict[str, type[Component]], list[Issue]] | None = None

    # -- schema ---------------------------------------------------------------------------
    def path(self, component: str) -> Path:
        return self.config_dir / f"{component}_config.toml"

    @property
    def schema_dir(self) -> Path:
        return self.config_dir / "schemas"

    def models(self) -> dict[str, type[Component]]:
        """Built-in components, then those defined only by a schema file."""
        return {**COMPONENTS, **self._dynamic_models()[0]}

    def components(self) -> list[str]:
        return list(self.models())

    def model_class(self, component: str) -> type[Component]:
        models = self.models()
        if component not in models:
            raise ConfigError(f"unknown config component {component!r}{suggest(component, models)}"
                              f" (known: {', '.join(models)})")
        return models[component]

    def schema_issues(self) -> list[Issue]:
        """Problems in schema files that define new components (those are left out)."""
        return list(self._dynamic_models()[1])

    def _dynamic_models(self) -> tuple[dict[str, type[Component]], list[Issue]]:
        files = sorted(p for p in self.schema_dir.glob("*_config.toml")
                       if p.name.removesuffix("_config.toml") not in COMPONENTS) \
            if self.schema_dir.is_dir() else []
        stamp = tuple((p, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
        if self._dynamic is None or self._dynamic[0] != stamp:
            models: dict[str, type[Component]] = {}
            issues: list[Issue] = []
            for path in files:
                name = path.name.removesuffix("_config.toml")
                try:
                    models[name] = model_from_schema(path, name)
                    continue
                except (SchemaFileError, ConfigError) as exc:
                    issues.extend(exc.issues)
                except Exception as exc:  # noqa: BLE001 - one bad file never stops the app
                    issues.append(Issue(f"cannot be used as a schema ({type(exc).__name__}: "
                                        f"{exc})", file=display_path(path)))
                issues.append(Issue(f"the {name} component is left out until this schema "
                                    "file is fixed", file=display_path(path)))
            self._dynamic = (stamp, models, issues)
        return self._dynamic[1], self._dynamic[2]

    # -- environment ----------------------------------------------------------------------
    def environ(self, env: Mapping[str, str] | None = None) -> Mapping[str, str]:
        return env if env is not None else (self._env if self._env is not None else os.environ)

    def env_scan(self, env: Mapping[str, str] | None = None) -> envmod.EnvScan:
        return envmod.scan(self.environ(env), self.models())

    def env_overrides(self, component: str | None = None, *,
                      env: Mapping[str, str] | None = None) -> dict[str, envmod.EnvOverride]:
        """``{component.section.key: EnvOverride}``; ``str(override)`` is the variable."""
        found = self.env_scan(env).overrides
        return {k: v for k, v in found.items() if component is None or v.component == component}

    def env_sources(self, component: str | None = None, *,
                    env: Mapping[str, str] | None = None) -> dict[str, str]:
        """``{component.section.key: VARIABLE}`` for read-only badges in the forms."""
        return {k: v.var for k, v in self.env_overrides(component, env=env).items()}

    # -- reading --------------------------------------------------------------------------
    def _state(self, component: str) -> FileState:
        self.model_class(component)
        shipped = paths.SHIPPED_CONFIG_DIR / f"{component}_config.toml"
        seed = shipped.read_text(encoding="utf-8") if shipped.is_file() \
            and shipped.resolve() != self.path(component).resolve() else None
        return read_state(component, self.path(component), seed_text=seed)

    def read_document(self, component: str) -> tomlkit.TOMLDocument:
        """The file as a tomlkit document, migrated to the current layout in memory."""
        return self._state(component).doc

    def check(self, component: str, *, env: Mapping[str, str] | None = None,
              use_env: bool = True) -> Checked:
        """Validate one component without raising: model (or None), errors, warnings."""
        state = self._state(component)
        scan = self.env_scan(env) if use_env else envmod.EnvScan()
        checked = validate(state, self.model_class(component), state.data(),
                           scan.for_component(component))
        checked.errors[:0] = scan.errors_for(component)
        if not state.source.exists:
            checked.warnings.insert(0, Issue("file not found; schema defaults are used",
                                             file=state.where, severity="warning"))
        done = state.migration
        if done.changed and done.notes:
            step = f"schema_version {done.from_version} -> {done.to_version} " \
                if done.from_version != done.to_version else ""
            checked.warnings.append(Issue(
                f"{step}({'; '.join(done.notes)}); written on the next save",
                file=state.where, severity="warning"))
        if checked.errors:
            checked.model = None
        return checked

    def load(self, component: str, *, env: Mapping[str, str] | None = None) -> Component:
        checked = self.check(component, env=env)
        if checked.errors or checked.model is None:
            raise ConfigValidationError(checked.errors)
        return checked.model  # type: ignore[return-value]

    def validate_all(self, *, env: Mapping[str, str] | None = None
                     ) -> tuple[list[Issue], list[Issue]]:
        """Every error and warning of every file, schema file and environment variable."""
        errors, warnings = list(self.schema_issues()), []
        scan = self.env_scan(env)
        errors += [issue for comps, issue in scan.errors if not comps]
        warnings += scan.warnings
        known = set(self.components())
        for path in sorted(self.config_dir.glob("*_config.toml")):
            if path.name.removesuffix("_config.toml") not in known:
                warnings.append(Issue(
                    f"no schema for this file, so it is not checked; add schemas/{path.name} "
                    "to make it a component", file=display_path(path), severity="warning"))
        for name in self.components():
            try:
                checked = self.check(name, env=env)
            except ConfigError as exc:
                errors += exc.issues
                continue
            errors += checked.errors
            warnings += checked.warnings
        return errors, warnings

    def get(self, key_path: str) -> Any:
        component, *rest = key_path.split(".")
        value: Any = self.load(component)
        for part in rest:
            value = getattr(value, part)
        return value

    def source(self, key_path: str) -> str:
        """Where the effective value comes from: "environment", "file" or "default"."""
        component, rel = key_path.split(".", 1)
        if key_path in self.env_overrides(component):
            return "environment"
        state = self._state(component)
        found = get_value(state.data(), rel.split("."), _MISSING)
        return "default" if found is _MISSING or not state.source.exists else "file"

    # -- writing --------------------------------------------------------------------------
    def plan(self, component: str, values: Mapping[str, Any]) -> tuple[FileState, str, list[str]]:
        """Validate an edit and render the new text: (state, new text, changed key paths).

        Raises :class:`ConfigValidationError` (nothing is written by anyone)."""
        model_cls = self.model_class(component)
        state = self._state(component)
        leaf = leaves(model_cls)
        issues: list[Issue] = []
        coerced: dict[str, tuple[Any, Any]] = {}
        for rel, value in _flatten(values, leaf).items():
            key_path = f"{component}.{rel}"
            info = leaf.get(rel)
            if info is None:
                issues.append(Issue(f"no such key{suggest(rel, leaf)}", key_path=key_path))
                continue
            try:
                coerced[rel] = (value, adapter(info).validate_python(value))
            except ValidationError as exc:
                pos = state.line_of(rel.split("."))
                issues.extend(Issue(rule_text(e), key_path=key_path, value=value, has_value=True,
                                    file=state.where, line=pos[0] if pos else None)
                              for e in exc.errors())
        if issues:
            raise ConfigValidationError(issues)
        data = state.data()
        edited = dict(data)
        for rel, (_raw, new) in coerced.items():
            edited = _with(edited, rel.split("."), new)
        checked = validate(state, model_cls, edited)
        if checked.errors:
            raise ConfigValidationError(checked.errors)
        doc = state.doc
        changed: list[str] = []
        for rel, (raw, new) in coerced.items():
            info = leaf[rel]
            stored = get_value(data, rel.split("."), _MISSING)
            if _same(info, stored, new):
                continue
            set_value(doc, rel.split("."), _tomlable(_written(raw, new)))
            changed.append(f"{component}.{rel}")
        return state, state.source.render(doc) if changed else state.source.text, changed

    def update(self, component: str, values: Mapping[str, Any], *, with_env: bool = False,
               check: Callable[[FileState], None] | None = None) -> list[str]:
        """Set ``{"section.key": value}``; validate; write only what changed.

        The file's lock is held from the read to the rename, so a concurrent save of other
        keys (another process, thread or the window) is re-read here, never overwritten.
        ``with_env``: the result with the environment overrides laid over it must be valid
        too (the CLI's ``set`` then never writes a file it reports as broken). ``check`` sees
        the file as it is on disk under the lock and may raise to refuse the save (the
        window's "changed on disk" question). Returns the key paths whose stored value
        changed (empty: the file is untouched)."""
        with file_lock(self.path(component)):
            state, text, changed = self.plan(component, values)
            if check is not None:
                check(state)
            if with_env:
                self._check_with_env(component, state, text)
            if changed:
                atomic_write(state.path, state.source.encode(text), backup=state.source.exists)
        return changed

    def _check_with_env(self, component: str, state: FileState, text: str) -> None:
        """Raise when the edited text plus the environment's overrides would not load."""
        scan = self.env_scan()
        errors = scan.errors_for(component)
        edited = parse(text, state.path).unwrap()
        errors += validate(state, self.model_class(component), edited,
                           scan.for_component(component)).errors
        if errors:
            raise ConfigValidationError(errors)

    def preview_diff(self, component: str, values: Mapping[str, Any]) -> str:
        """The unified diff a save of ``values`` would write (empty: no change)."""
        state, text, _changed = self.plan(component, values)
        old = state.source.text if state.source.exists else ""
        return unified_diff(old, text, state.path.name)

    preview = preview_diff

    def reset(self, key_path: str, *, with_env: bool = False) -> list[str]:
        """Put a key (or every key of ``component[.section]``) back to its schema default."""
        component, _, rel = key_path.partition(".")
        leaf = leaves(self.model_class(component))
        chosen = {k: default_of(i) for k, i in leaf.items()
                  if k != "schema_version" and (not rel or k == rel or k.startswith(rel + "."))}
        if not chosen:
            raise ConfigValidationError([Issue(f"no such key{suggest(rel, leaf)}",
                                               key_path=key_path)])
        return self.update(component, chosen, with_env=with_env)

    def merge(self, component: str, other: Mapping[str, Any]) -> Component:
        """The component with ``other`` (nested or ``section.key``) laid over it; no write."""
        model_cls = self.model_class(component)
        base = self.load(component).model_dump()
        for rel, value in _flatten(other, leaves(model_cls)).items():
            base = _with(base, rel.split("."), value)
        try:
            return model_cls.model_validate(base)
        except ValidationError as exc:
            raise ConfigValidationError([
                Issue(rule_text(e), key_path=".".join([component, *map(str, e["loc"])]),
                      value=e.get("input"), has_value=True) for e in exc.errors()]) from None

    # -- presets --------------------------------------------------------------------------
    def presets(self) -> dict[str, Path]:
        return find_presets(paths.SHIPPED_CONFIG_DIR, self.config_dir)

    def preset(self, name: str) -> Preset:
        """A preset's values, checked, without writing (the forms apply them to the edit)."""
        known = self.presets()
        if name not in known:
            raise unknown_preset(name, known)
        return read_preset(name, known[name], self.models())

    def preset_values(self, name: str) -> dict[str, dict[str, Any]]:
        return self.preset(name).values

    def apply_preset(self, name: str) -> dict[str, list[str]]:
        """Write a preset: every file is checked first, then only changed keys are written."""
        preset = self.preset(name)
        for component, values in preset.values.items():
            self.plan(component, values)
        return {c: self.update(c, v) for c, v in preset.values.items()}

    def describe(self) -> str:
        return display_path(self.config_dir)

    # -- trust ----------------------------------------------------------------------------
    @property
    def is_users_own(self) -> bool:
        """Whether this is the user's own config folder (not a ``./config`` found in the
        working folder, nor one named on the command line): only its settings that run code
        (``trust_remote_code``) are taken as the user's choice."""
        try:
            return self.config_dir.resolve() == paths.user_config_dir().resolve()
        except OSError:
            return False

    def origin_note(self) -> str:
        """One line naming the folder in use when it is not the user's own ("" when it is)."""
        if self.is_users_own:
            return ""
        return f"using config folder {display_path(self.config_dir)} (not your own config folder)"


def _flatten(values: Mapping[str, Any], leaf: Mapping[str, Any], prefix: str = ""
             ) -> dict[str, Any]:
    """``{"section": {"key": v}}`` or ``{"section.key": v}`` -> ``{"section.key": v}``."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and dotted not in leaf:
            out.update(_flatten(value, leaf, f"{dotted}."))
        else:
            out[dotted] = value
    return out


def _with(data: dict[str, Any], parts: list[str], value: Any) -> dict[str, Any]:
    """A copy of nested ``data`` with one value replaced."""
    out = dict(data)
    if len(parts) == 1:
        out[parts[0]] = value
    else:
        inner = out.get(parts[0])
        out[parts[0]] = _with(inner if isinstance(inner, dict) else {}, parts[1:], value)
    return out


def _same(info: Any, stored: Any, new: Any) -> bool:
    """Whether the file already means ``new`` (a missing key means the default)."""
    if stored is _MISSING:
        return default_of(info) == new
    try:  # strict: a file value of the wrong type ("16" for 16) is rewritten, not kept
        return adapter(info).validate_python(stored, strict=True) == new
    except ValidationError:
        return False


def _written(raw: Any, new: Any) -> Any:
    """The validated value, except that a single string given for a list field stays a
    string (``target_modules = "all-linear"``), as the user wrote it."""
    return raw if isinstance(raw, str) and isinstance(new, list) else new


def _tomlable(value: Any) -> Any:
    if isinstance(value, tuple | set | frozenset):
        return [_tomlable(v) for v in value]
    if isinstance(value, list):
        return [_tomlable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
