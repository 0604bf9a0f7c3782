"""``llamahome config ...`` run as a user runs it: a real process, real files, exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llamahome_gui", "config", *args], cwd=cwd,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def c(tmp_path: Path) -> Path:
    """``cp -r config /tmp/c``."""
    target = tmp_path / "c"
    shutil.copytree(REPO / "config", target)
    return target


def _changed_lines(a: bytes, b: bytes) -> list[tuple[bytes, bytes]]:
    old, new = a.split(b"\n"), b.split(b"\n")
    assert len(old) == len(new)
    return [(x, y) for x, y in zip(old, new, strict=True) if x != y]


def test_set_changes_one_line_and_same_value_leaves_bytes(c: Path, tmp_path: Path) -> None:
    path = c / "training_config.toml"
    before = path.read_bytes()
    result = run("set", "training.lora.r", "48", "--config-dir", str(c), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    after = path.read_bytes()
    assert _changed_lines(before, after) == [(b"r = 16", b"r = 48")]
    assert [x for x in before.split(b"\n") if x.startswith(b"#")] == \
        [x for x in after.split(b"\n") if x.startswith(b"#")]
    again = run("set", "training.lora.r", "48", "--config-dir", str(c), cwd=tmp_path)
    assert again.returncode == 0 and "unchanged" in again.stdout
    assert path.read_bytes() == after
    assert (c / "training_config.toml.bak").read_bytes() == before


@pytest.mark.parametrize(("value", "rule"), [
    ("1.5", "must be <= 1.0"), ("nan", "is not a number (nan); give a number")])
def test_set_out_of_range_exits_2_names_key_and_bound(c: Path, tmp_path: Path, value: str,
                                                      rule: str) -> None:
    path = c / "resource_config.toml"
    before = path.read_bytes()
    result = run("set", "resource.gpu.memory_fraction", value, "--config-dir", str(c),
                 cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == ("c/resource_config.toml:9: resource.gpu.memory_fraction = "
                                     f"{value}: {rule}")
    assert path.read_bytes() == before


def test_show_marks_values_from_the_environment(c: Path, tmp_path: Path) -> None:
    shutil.move(c, tmp_path / "config")  # run from a folder holding ./config, like a clone
    env = {"LLAMAHOME_GPU_MEMORY_FRACTION": "0.5"}
    result = run("show", "resource.gpu.memory_fraction", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("resource.gpu.memory_fraction = 0.5  # from the environment "
                             "(LLAMAHOME_GPU_MEMORY_FRACTION)\n")
    as_json = json.loads(run("show", "resource.gpu", "--json", cwd=tmp_path, env=env).stdout)
    assert as_json["resource.gpu.memory_fraction"] == {
        "value": 0.5, "source": "environment", "env_var": "LLAMAHOME_GPU_MEMORY_FRACTION"}
    assert as_json["resource.gpu.allow_growth"] == {"value": True, "source": "file"}
    assert "memory_fraction = 0.9" in (tmp_path / "config" / "resource_config.toml").read_text()


def test_validate_names_file_and_line_of_a_syntax_error(c: Path, tmp_path: Path) -> None:
    ok = run("validate", "--config-dir", str(c), cwd=tmp_path)
    assert ok.returncode == 0 and ok.stdout.startswith("ok: 6 components")
    path = c / "model_config.toml"
    path.write_text(path.read_text().replace('name = "SmolLM2-135M-Instruct"', 'name = "Smol'))
    line = path.read_text().split("\n").index('name = "Smol') + 1
    bad = run("validate", "--config-dir", str(c), cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.startswith(f"c/model_config.toml:{line}:")
    assert "invalid TOML" in bad.stderr


def test_validate_prints_one_line_per_error(c: Path, tmp_path: Path) -> None:
    for name, old, new in (("resource", "cpu_threshold = 0.8", "cpu_threshold = 2"),
                           ("training", "r = 16", "r = 0")):
        path = c / f"{name}_config.toml"
        path.write_text(path.read_text().replace(old, new))
    result = run("validate", "--config-dir", str(c), cwd=tmp_path)
    assert result.returncode == 2

    def line(name: str, text: str) -> int:
        return (c / f"{name}_config.toml").read_text().split("\n").index(text) + 1

    lines = result.stderr.strip().split("\n")
    assert lines == [
        f"c/training_config.toml:{line('training', 'r = 0')}: training.lora.r = 0: must be >= 1",
        f"c/resource_config.toml:{line('resource', 'cpu_threshold = 2')}: "
        "resource.monitor.cpu_threshold = 2: must be <= 1.0"]


def test_values_are_read_as_toml_else_as_text(c: Path, tmp_path: Path) -> None:
    assert run("set", "training.lora.target_modules", '["q_proj","v_proj"]', "--config-dir",
               str(c), cwd=tmp_path).returncode == 0
    assert run("set", "model.model.name", "My model 7B", "--config-dir", str(c),
               cwd=tmp_path).returncode == 0
    assert run("set", "model.model.size", "7", "--config-dir", str(c),
               cwd=tmp_path).returncode == 0
    shown = json.loads(run("show", "--json", "--config-dir", str(c), cwd=tmp_path).stdout)
    assert shown["training.lora.target_modules"]["value"] == ["q_proj", "v_proj"]
    assert shown["model.model.name"]["value"] == "My model 7B"
    assert shown["model.model.size"]["value"] == "7"
    assert 'target_modules = ["q_proj", "v_proj"]' in (c / "training_config.toml").read_text()


def test_reset_puts_the_default_back(c: Path, tmp_path: Path) -> None:
    path = c / "training_config.toml"
    before = path.read_bytes()
    run("set", "training.lora.r", "48", "--config-dir", str(c), cwd=tmp_path)
    result = run("reset", "training.lora.r", "--config-dir", str(c), cwd=tmp_path)
    assert result.returncode == 0 and "training.lora.r reset" in result.stdout
    assert path.read_bytes() == before
    unknown = run("reset", "training.lora.rank", "--config-dir", str(c), cwd=tmp_path)
    assert unknown.returncode == 2 and "no such key; did you mean lora.r?" in unknown.stderr


def test_schema_write_and_print(c: Path, tmp_path: Path) -> None:
    shutil.rmtree(c / "schemas")
    written = run("schema", "--write", "--config-dir", str(c), cwd=tmp_path)
    assert written.returncode == 0 and written.stdout.count("wrote ") == 6
    for file in (REPO / "config" / "schemas").glob("*.toml"):
        assert (c / "schemas" / file.name).read_bytes() == file.read_bytes()
    printed = run("schema", "--config-dir", str(c), cwd=tmp_path)
    assert 'memory_fraction = { type = "float", min = 0.0, max = 1.0, default = 0.9' in \
        printed.stdout


def test_import_and_preset(c: Path, tmp_path: Path) -> None:
    source = tmp_path / "old.yaml"
    source.write_text("lora:\n  rank: 32\nserving:\n  port: 8080\n")
    result = run("import", str(source), "--config-dir", str(c), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "lora.rank -> training.lora.r" in result.stdout
    assert "not imported): serving.port" in result.stdout
    assert "\nr = 32\n" in (c / "training_config.toml").read_text()

    listed = run("preset", "--config-dir", str(c), cwd=tmp_path)
    assert {line.split(":")[0] for line in listed.stdout.splitlines()} == {
        "fast-debug", "low-memory", "quality"}
    applied = run("preset", "fast-debug", "--config-dir", str(c), cwd=tmp_path)
    assert applied.returncode == 0 and "training.training.max_steps" in applied.stdout
    assert "\nmax_steps = 10\n" in (c / "training_config.toml").read_text()
    missing = run("preset", "tiny", "--config-dir", str(c), cwd=tmp_path)
    assert missing.returncode == 1 and "no preset 'tiny'" in missing.stderr
    gone = run("import", str(tmp_path / "nope.yaml"), "--config-dir", str(c), cwd=tmp_path)
    assert gone.returncode == 1 and "nope.yaml: no such file" in gone.stderr


def test_without_local_config_the_user_folder_is_created(tmp_path: Path,
                                                         isolated_user_dirs: Path) -> None:
    result = run("set", "training.lora.r", "24", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    user = Path(os.environ["LLAMAHOME_CONFIG_HOME"])
    assert "\nr = 24\n" in (user / "training_config.toml").read_text()
    assert (user / "presets" / "quality").is_dir() and (user / "schemas").is_dir()
    assert not (tmp_path / "config").exists()


def test_a_missing_config_dir_is_an_error_not_a_new_folder(tmp_path: Path) -> None:
    result = run("set", "training.lora.r", "8", "--config-dir", str(tmp_path / "typo"),
                 cwd=tmp_path)
    assert result.returncode == 1 and "does not exist" in result.stderr
    assert not (tmp_path / "typo").exists()
