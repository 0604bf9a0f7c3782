"""What the Runs page reads back from a run folder: the time really spent training (every
segment of a resumed run), the user's name and note, eval loss, learning rate and rank."""

from __future__ import annotations

import json

import pytest

from llamahome_gui.config.schema import COMPONENTS
from llamahome_gui.core.runs import RUN_COMPONENTS, run_info, write_run_config
from llamahome_gui.core.runs.events import (
    Evaluated,
    RunFinished,
    RunStarted,
    RunStopped,
    StepLogged,
    encode,
)
from llamahome_gui.core.runs.meta import RUN_META, read_meta, write_meta


def write(run, *events) -> None:
    run.mkdir(parents=True, exist_ok=True)
    (run / "events.jsonl").write_text("".join(encode(e) + "\n" for e in events))


def test_a_resumed_run_counts_its_segments_not_the_pause(tmp_path):
    run = tmp_path / "20260101-100000-tiny-data"
    write(run,
          RunStarted(time=1000.0, pid=1, total_steps=10),
          StepLogged(time=1030.0, step=3, max_steps=10, loss=2.0),
          RunStopped(time=1040.0, step=3, checkpoint="/c"),               # 40 s, then a night
          RunStarted(time=50_000.0, pid=1, total_steps=10, start_step=3),
          StepLogged(time=50_010.0, step=6, max_steps=10, loss=1.5),
          Evaluated(time=50_011.0, step=6, eval_loss=1.7),
          RunFinished(time=50_020.0, step=10, adapter=str(run / "adapter"), final_loss=1.2,
                      duration_s=25.0))                                     # the trainer's 25 s
    info = run_info(run)
    assert info.duration_s == pytest.approx(65.0)
    assert info.segments == 2 and info.eval_loss == pytest.approx(1.7)
    assert info.status == "done" and info.label == "tiny-data"


def test_name_and_note_live_beside_the_run_and_leave_run_toml_alone(tmp_path):
    run = tmp_path / "20260101-100000-tiny-data"
    configs = {c: COMPONENTS[c]() for c in RUN_COMPONENTS}
    configs["training"].training.learning_rate = 3e-4
    configs["training"].lora.r = 8
    write_run_config(run, configs)
    snapshot = (run / "run.toml").read_bytes()
    write(run, RunStarted(time=1.0, pid=1, total_steps=4))
    write_meta(run, name="  rank 8\n test ")
    write_meta(run, note="lower rank, same data")
    assert read_meta(run).name == "rank 8 test"
    info = run_info(run)
    assert (info.title, info.label, info.note) == ("rank 8 test", "rank 8 test",
                                                   "lower rank, same data")
    assert (info.learning_rate, info.lora_rank) == (3e-4, 8)
    assert (run / "run.toml").read_bytes() == snapshot
    assert json.loads((run / RUN_META).read_text())["name"] == "rank 8 test"
    write_meta(run, name="")
    assert run_info(run).label == "tiny-data"


def test_a_damaged_meta_file_reads_as_no_name(tmp_path):
    run = tmp_path / "r"
    write(run, RunStarted(time=1.0, pid=1, total_steps=4))
    (run / RUN_META).write_text("{not json")
    assert run_info(run).title == "" and run_info(run).label == "r"
    with pytest.raises(FileNotFoundError):
        write_meta(tmp_path / "missing", name="x")
