"""Settings that nothing could act on were retired: an old file still loads, says what was
taken out and why, and loses exactly those lines on its next save."""

from __future__ import annotations

from llamahome_gui.config.manager import ConfigManager

OLD_MONITORING = """\
schema_version = 1

[logging]
log_interval = 10
# flush metrics every 100 steps
save_interval = 100
log_level = "INFO"

[visualization]
tensorboard = true
plot_metrics = false  # no graphs, please
"""


def test_old_file_loads_and_loses_only_the_retired_lines_on_save(config_dir) -> None:
    path = config_dir / "monitoring_config.toml"
    path.write_text(OLD_MONITORING, encoding="utf-8")
    cfg = ConfigManager(config_dir)
    checked = cfg.check("monitoring")
    assert checked.errors == []
    assert [str(w).split(": warning: ")[1] for w in checked.warnings] == [
        "(logging.save_interval removed: events and metrics are written and flushed at every "
        "step; visualization.plot_metrics removed: the window always draws its live graphs); "
        "written on the next save"]
    assert cfg.update("monitoring", {"logging.log_level": "DEBUG"}) == [
        "monitoring.logging.log_level"]
    assert path.read_text(encoding="utf-8") == OLD_MONITORING.replace(
        "save_interval = 100\n", "").replace('"INFO"', '"DEBUG"').replace(
        "plot_metrics = false  # no graphs, please\n", "")
    assert cfg.check("monitoring").warnings == []      # nothing left to say
