"""``model.resources.max_batch_size`` and ``min_gpu_memory`` stop a run before it starts."""

from __future__ import annotations

from llamahome_gui.cli import main
from llamahome_gui.core.models.memory import estimate_training_memory
from llamahome_gui.core.units import GIB
from tests.cli.test_train_cli import tiny_args
from tests.core.test_train import write_alpaca


def test_limits_make_the_estimate_say_wont_fit_and_why(tiny_model_dir) -> None:
    training = {"per_device_train_batch_size": 4, "max_seq_length": 64}
    lora = {"r": 4}
    ok = estimate_training_memory(tiny_model_dir, training, lora, available=64 * GIB,
                                  max_batch_size=8)
    assert ok.verdict == "fits" and ok.problems == []
    big = estimate_training_memory(tiny_model_dir, training, lora, available=64 * GIB,
                                   max_batch_size=2, min_gpu_memory=16)
    assert big.verdict == "won't fit"
    assert "per_device_train_batch_size = 4 is above model.resources.max_batch_size = 2" \
        in big.problems[0]
    assert "min_gpu_memory = 16 GiB, but this run is on the CPU" in big.problems[1]
    assert "Not allowed: training.training.per_device_train_batch_size" in big.table()


def test_cli_refuses_a_batch_above_the_models_limit(tiny_model_dir, tmp_path, capsys) -> None:
    data = write_alpaca(tmp_path / "d.json", repeat=2)
    run_dir = tmp_path / "run"
    code = main(["train", *tiny_args(tiny_model_dir, data, "--set",
                                     "training.training.per_device_train_batch_size=4",
                                     "--set", "model.resources.max_batch_size=2",
                                     "--run-dir", str(run_dir))])
    err = capsys.readouterr().err
    assert code != 0 and "Not allowed" in err and "max_batch_size = 2" in err
    assert not (run_dir / "events.jsonl").exists()          # nothing was trained
