"""Schema files: generated from the models and in sync; a schema file with no model behind
it becomes a component that validates like a built-in one."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomlkit

from llamahome_gui.config.errors import ConfigValidationError, display_path
from llamahome_gui.config.introspect import default_of, leaves
from llamahome_gui.config.manager import ConfigManager
from llamahome_gui.config.schema import COMPONENTS
from llamahome_gui.config.schema_files import SchemaFileError, model_from_schema, schema_text

SHIPPED = Path(__file__).resolve().parents[2] / "config"


@pytest.mark.parametrize("component", list(COMPONENTS))
def test_shipped_schema_files_are_in_sync(component: str) -> None:
    path = SHIPPED / "schemas" / f"{component}_config.toml"
    assert path.read_text(encoding="utf-8") == schema_text(component, COMPONENTS[component]), (
        f"{path} is stale: run `llamahome config schema --write`")


def test_schema_file_has_the_documented_form() -> None:
    doc = tomlkit.parse((SHIPPED / "schemas" / "resource_config.toml").read_text())
    assert doc["gpu"]["memory_fraction"].unwrap() == {
        "type": "float", "min": 0.0, "max": 1.0, "default": 0.9,
        "description": "Largest share of each GPU's memory a run may use."}
    line = next(x for x in (SHIPPED / "schemas" / "resource_config.toml").read_text().splitlines()
                if x.startswith("memory_fraction"))
    assert line.startswith('memory_fraction = { type = "float", min = 0.0, max = 1.0, '
                           'default = 0.9, description = "')


@pytest.mark.parametrize("component", list(COMPONENTS))
def test_model_rebuilt_from_its_schema_file_matches(component: str) -> None:
    built = model_from_schema(SHIPPED / "schemas" / f"{component}_config.toml", component)
    original = COMPONENTS[component]
    assert built().model_dump() == original().model_dump()
    a, b = leaves(original), leaves(built)
    assert list(a) == list(b)
    for key in a:
        assert default_of(a[key]) == default_of(b[key]), key
        assert a[key].description == b[key].description, key
        assert repr(a[key].metadata).count("=") == repr(b[key].metadata).count("="), key


MY_SCHEMA = """\
# My own component: a web hook that is called when a run ends.
[hook]
_description = "Where run results are posted."
url = { type = "str", default = "", description = "Address to post to; empty = off." }
retries = { type = "int", min = 0, max = 10, default = 3, description = "Tries before giving up." }
timeout = { type = "float", exclusive_min = 0.0, default = 5.0, unit = "s", description = "Seconds." }
method = { type = "str", choices = ["POST", "PUT"], default = "POST", description = "HTTP verb." }
tags = { type = "list", items = "str", default = ["llamahome"], description = "Labels sent." }
"""


def test_a_user_schema_file_becomes_a_component(config_dir: Path) -> None:
    (config_dir / "schemas" / "my_config.toml").write_text(MY_SCHEMA)
    (config_dir / "my_config.toml").write_text(
        "[hook]\n# where to send\nurl = \"http://localhost:9\"\nretries = 5\n")
    cfg = ConfigManager(config_dir)
    assert cfg.components()[-1] == "my"
    model = cfg.model_class("my")
    assert model.model_fields["hook"].description == "Where run results are posted."
    loaded = cfg.load("my")
    assert (loaded.hook.url, loaded.hook.retries, loaded.hook.timeout) == (
        "http://localhost:9", 5, 5.0)
    assert leaves(model)["hook.timeout"].json_schema_extra == {"unit": "s"}
    assert cfg.update("my", {"hook.retries": 7}) == ["my.hook.retries"]
    assert "# where to send\n" in (config_dir / "my_config.toml").read_text()
    with pytest.raises(ConfigValidationError, match=r"my.hook.retries = 11: must be <= 10"):
        cfg.update("my", {"hook.retries": 11})
    (config_dir / "my_config.toml").write_text('[hook]\nmethod = "GET"\n')
    with pytest.raises(ConfigValidationError) as info:
        cfg.load("my")
    assert str(info.value) == (f"{display_path(config_dir / 'my_config.toml')}:2: "
                               "my.hook.method = \"GET\": must be one of 'POST' or 'PUT'")


def test_broken_schema_file_is_reported_with_its_line(config_dir: Path) -> None:
    path = config_dir / "schemas" / "bad_config.toml"
    path.write_text('[x]\nn = { type = "integer", default = 1 }\n'
                    'm = { type = "int", min = 5, default = 1, colour = "red" }\n')
    with pytest.raises(SchemaFileError) as info:
        model_from_schema(path)
    where = display_path(path)
    assert [str(i) for i in info.value.issues] == [
        f"{where}:2: x.n: type = 'integer': use str, int, float, bool or list",
        f"{where}:3: x.m: unknown spec key(s) colour; allowed: advanced, allow_single, choices, "
        "default, description, exclusive_max, exclusive_min, format, informational, items, max, "
        "max_items, min, min_items, path_kind, placeholder, title, type, unit, widget",
        f"{where}:3: x.m: default = 1 must be >= 5",
    ]
    cfg = ConfigManager(config_dir)
    assert "bad" not in cfg.components()      # the app still opens
    errors, _ = cfg.validate_all()
    assert len(errors) == 4 and str(errors[0]).startswith(f"{where}:2:")
    assert str(errors[3]) == f"{where}: the bad component is left out until this schema file is fixed"


def test_schema_write_regenerates_files(tmp_path: Path) -> None:
    from llamahome_gui.config.schema_files import write_schemas

    folder = tmp_path / "schemas"
    assert len(write_schemas(folder, COMPONENTS)) == len(COMPONENTS)
    assert write_schemas(folder, COMPONENTS) == []
    for name in COMPONENTS:
        assert (folder / f"{name}_config.toml").read_text() == \
            (SHIPPED / "schemas" / f"{name}_config.toml").read_text()


BROKEN_SCHEMAS = {
    "min-zero": ('[opts]\nalpha = { type = "int", min = "zero", default = 1 }\n',
                 ":2: opts.alpha: min = 'zero': must be a number"),
    "underscore": ('_x = { type = "int", default = 1 }\n',
                   ":1: _x: names starting with _ are reserved"),
    "model-config": ('[sec]\nmodel_config = { type = "int", default = 1 }\n',
                     ":2: sec.model_config: the name model_config is reserved"),
}


@pytest.mark.parametrize("case", list(BROKEN_SCHEMAS))
def test_a_broken_user_schema_file_leaves_only_its_component_out(config_dir: Path,
                                                                  tmp_path: Path,
                                                                  case: str) -> None:
    import subprocess
    import sys

    text, expected = BROKEN_SCHEMAS[case]
    (config_dir / "schemas" / "mine_config.toml").write_text(text)
    cfg = ConfigManager(config_dir)
    assert "mine" not in cfg.components() and cfg.load("training").lora.r == 16

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "llamahome_gui", *args, "--config-dir",
                               str(config_dir)], cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)

    checked = cli("config", "validate")
    assert checked.returncode == 2
    assert f"schemas/mine_config.toml{expected}" in checked.stderr
    assert "Traceback" not in checked.stderr
    shown = cli("config", "show", "training.lora.r")
    assert shown.returncode == 0 and shown.stdout == "training.lora.r = 16\n"
    data = cli("data", "check")  # a command that loads model, training and inference
    assert data.returncode == 0, data.stderr
