"""``monitoring.logging.log_interval``: progress lines in a log (no terminal) every N steps."""

from __future__ import annotations

from llamahome_gui.cli import main
from tests.cli.test_train_cli import tiny_args
from tests.core.test_train import write_alpaca


def test_plain_progress_lines_every_log_interval_steps(tiny_model_dir, tmp_path, capsys) -> None:
    data = write_alpaca(tmp_path / "d.json", repeat=4)
    code = main(["train", *tiny_args(tiny_model_dir, data, "--set",
                                     "training.training.max_steps=5", "--set",
                                     "training.training.per_device_train_batch_size=1",
                                     "--set", "monitoring.logging.log_interval=2",
                                     "--run-dir", str(tmp_path / "run"))])
    out = capsys.readouterr().out
    assert code == 0
    shown = [line.split()[1] for line in out.splitlines() if line.startswith("step ")]
    assert shown == ["2/5", "4/5", "5/5"]          # every 2nd step, and the last one
