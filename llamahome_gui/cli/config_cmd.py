"""``llamahome config validate|show|set|reset|schema|import|preset``.

Exit status: 0 ok, 2 the config (or the value given) breaks the schema, 1 anything else.
Errors go to stderr, one line each, naming file:line and key path.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from llamahome_gui.config.errors import (
    ConfigError,
    ConfigValidationError,
    TomlSyntaxError,
    display_path,
    format_value,
)
from llamahome_gui.config.introspect import leaves, parse_typed, suggest
from llamahome_gui.config.manager import ConfigManager

EXIT_OK, EXIT_FAIL, EXIT_INVALID = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "config", help="check, show and edit the config files",
        description="Check, show and edit the TOML config files (comments are kept).")
    sub = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--config-dir", type=Path, default=None, metavar="DIR",
                       help="config folder (default: ./config if present, else the user's)")
        return p

    add("validate", "check every config file, schema file and LLAMAHOME_* variable") \
        .set_defaults(func=_guard(cmd_validate))
    p = add("show", "print effective values (file, defaults and environment)")
    p.add_argument("key", nargs="?", help="component, component.section or a key path")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_guard(cmd_show))
    p = add("set", "set one key (VALUE is read as TOML: 32, 0.5, true, [\"a\"]; else text)")
    p.add_argument("key", help="key path, e.g. training.lora.r")
    p.add_argument("value")
    p.set_defaults(func=_guard(cmd_set))
    p = add("reset", "put a key (or a section or component) back to its schema default")
    p.add_argument("key")
    p.set_defaults(func=_guard(cmd_reset))
    p = add("schema", "print the schema files generated from the models")
    p.add_argument("--write", action="store_true", help="write them to <config-dir>/schemas")
    p.set_defaults(func=_guard(cmd_schema))
    p = add("import", "import a YAML/TOML config with model/training/lora/data/serving/"
                      "monitoring sections")
    p.add_argument("file", type=Path)
    p.add_argument("--dry-run", action="store_true", help="show the changes, write nothing")
    p.set_defaults(func=_guard(cmd_import))
    p = add("preset", "apply a preset (config/presets/NAME); without NAME, list them")
    p.add_argument("name", nargs="?")
    p.add_argument("--dry-run", action="store_true", help="show the changes, write nothing")
    p.set_defaults(func=_guard(cmd_preset))


def _guard(func: Any) -> Any:
    """Turn config errors into their exit status and one line per problem on stderr."""
    def run(args: argparse.Namespace) -> int:
        if args.config_dir is not None and not args.config_dir.is_dir():
            print(f"error: config folder {args.config_dir} does not exist (copy the shipped "
                  "defaults there, e.g. cp -r config DIR, or leave out --config-dir)",
                  file=sys.stderr)
            return EXIT_FAIL
        try:
            return func(args, ConfigManager(args.config_dir))
        except (ConfigValidationError, TomlSyntaxError) as exc:
            _print_issues(exc.issues)
            return EXIT_INVALID
        except ConfigError as exc:
            _print_issues(exc.issues)
            return EXIT_FAIL
        except OSError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FAIL
    return run


def _print_issues(issues: list[Any]) -> None:
    for issue in issues:
        print(issue, file=sys.stderr)


def cmd_validate(args: argparse.Namespace, cfg: ConfigManager) -> int:
    errors, warnings = cfg.validate_all()
    _print_issues(warnings)
    _print_issues(errors)
    if errors:
        return EXIT_INVALID
    print(f"ok: {len(cfg.components())} components in {cfg.describe()} are valid")
    return EXIT_OK


def _rows(cfg: ConfigManager, key: str | None) -> list[dict[str, Any]]:
    components = cfg.components()
    if key:
        component = key.split(".", 1)[0]
        cfg.model_class(component)
        components = [component]
    rows = []
    for component in components:
        model = cfg.load(component).model_dump(mode="json")
        env = cfg.env_sources(component)
        doc = cfg.read_document(component).unwrap() if cfg.path(component).exists() else {}
        for rel in leaves(cfg.model_class(component)):
            key_path = f"{component}.{rel}"
            if key and key_path != key and not key_path.startswith(key + "."):
                continue
            if rel == "schema_version" and key != key_path:
                continue
            value: Any = model
            stored: Any = doc
            for part in rel.split("."):
                value = value[part]
                stored = stored.get(part) if isinstance(stored, dict) else None
            source = "environment" if key_path in env else (
                "file" if stored is not None else "default")
            row = {"key": key_path, "value": value, "source": source}
            if key_path in env:
                row["env_var"] = env[key_path]
            rows.append(row)
    if key and not rows:
        component, _, rel = key.partition(".")
        hint = suggest(rel, leaves(cfg.model_class(component)))
        raise ConfigValidationError(f"{key}: no such key{hint} (`llamahome config show "
                                    f"{component}` lists them)")
    return rows


def cmd_show(args: argparse.Namespace, cfg: ConfigManager) -> int:
    rows = _rows(cfg, args.key)
    if args.json:
        print(json.dumps({r["key"]: {k: v for k, v in r.items() if k != "key"} for r in rows},
                         indent=2, ensure_ascii=False))
        return EXIT_OK
    for row in rows:
        note = ""
        if row["source"] == "environment":
            note = f"  # from the environment ({row['env_var']})"
        elif row["source"] == "default":
            note = "  # default"
        print(f"{row['key']} = {format_value(row['value'])}{note}")
    return EXIT_OK


def _split_key(cfg: ConfigManager, key: str) -> tuple[str, str]:
    component, _, rel = key.partition(".")
    cfg.model_class(component)
    if not rel:
        raise ConfigValidationError(f"{key}: give a key path, e.g. {component}.section.key")
    return component, rel


def cmd_set(args: argparse.Namespace, cfg: ConfigManager) -> int:
    component, rel = _split_key(cfg, args.key)
    info = leaves(cfg.model_class(component)).get(rel)
    value = parse_typed(args.value, info)
    changed = cfg.update(component, {rel: value}, with_env=True)
    where = display_path(cfg.path(component))
    if changed:
        print(f"{args.key} = {format_value(cfg.get(args.key))}  (written to {where})")
    else:
        print(f"{args.key} is already {format_value(value)}; {where} unchanged")
    _note_env(cfg, component, [args.key])
    return EXIT_OK


def cmd_reset(args: argparse.Namespace, cfg: ConfigManager) -> int:
    component = args.key.split(".", 1)[0]
    changed = cfg.reset(args.key, with_env=True)
    where = display_path(cfg.path(component))
    for key_path in changed:
        print(f"{key_path} reset to its default  (written to {where})")
    if not changed:
        print(f"{args.key} already at the default; {where} unchanged")
    _note_env(cfg, component, changed or [args.key])
    return EXIT_OK


def _note_env(cfg: ConfigManager, component: str, keys: list[str]) -> None:
    env = cfg.env_sources(component)
    for key_path in keys:
        if key_path in env:
            print(f"note: {env[key_path]} overrides {key_path} while it is set", file=sys.stderr)


def cmd_schema(args: argparse.Namespace, cfg: ConfigManager) -> int:
    from llamahome_gui.config.schema import COMPONENTS
    from llamahome_gui.config.schema_files import schema_text, write_schemas

    if args.write:
        changed = write_schemas(cfg.schema_dir, COMPONENTS)
        for path in changed:
            print(f"wrote {display_path(path)}")
        if not changed:
            print(f"{display_path(cfg.schema_dir)}: schema files already up to date")
        return EXIT_OK
    for name, model in COMPONENTS.items():
        print(f"# ==> schemas/{name}_config.toml <==")
        print(schema_text(name, model))
    return EXIT_OK


def cmd_import(args: argparse.Namespace, cfg: ConfigManager) -> int:
    from llamahome_gui.config.importer import apply_import

    result = apply_import(cfg, args.file, dry_run=args.dry_run)
    plan = result.plan
    for component, values in plan.values.items():
        for rel in values:
            key_path = f"{component}.{rel}"
            print(f"{plan.origins[key_path]} -> {key_path}")
    if args.dry_run:
        sys.stdout.write(result.diff)
    else:
        for component, changed in result.changed.items():
            state = f"{len(changed)} key(s) changed" if changed else "unchanged"
            print(f"{display_path(cfg.path(component))}: {state}")
    if plan.unmapped:
        print(f"no home in LlamaHome GUI ({len(plan.unmapped)} key(s), not imported): "
              + ", ".join(plan.unmapped))
    return EXIT_OK


def cmd_preset(args: argparse.Namespace, cfg: ConfigManager) -> int:
    if not args.name:
        for name in cfg.presets():
            print(f"{name}: {cfg.preset(name).description}")
        return EXIT_OK
    preset = cfg.preset(args.name)
    if args.dry_run:
        for component, values in preset.values.items():
            sys.stdout.write(cfg.preview_diff(component, values))
        return EXIT_OK
    written = cfg.apply_preset(args.name)
    total = sum(len(v) for v in written.values())
    for component, changed in written.items():
        if changed:
            print(f"{display_path(cfg.path(component))}: {', '.join(changed)}")
    print(f"preset {args.name}: {total} key(s) changed")
    return EXIT_OK
