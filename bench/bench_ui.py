"""Window responsiveness while everything runs at once.

What: in the real window (``build_main_window``, offscreen), a 5 ms ``QTimer``
(PreciseTimer) records how late each beat fires while

- a training run goes on: the Train page's own ``start_run`` (run folder, ``run.toml``,
  the trainer child process through ``TrainWorker``, events tailed into the page's plots),
- the resource monitor samples (the shared ``MonitorService``, status-bar strip and graphs),
- the Chat page streams answers (``ChatWorker`` thread, tokens into the transcript), asking
  again as soon as an answer ends,

and the visible page switches between Train, Monitor and Chat every 2 s, as a person
clicking around would. Beats are counted only once the trainer has started its steps and
the chat has streamed its first token.

Against: the frame budget. Keys ``ui_heartbeat_p99_ms`` (goal <= 16: no dropped frame at
60 Hz) and ``ui_heartbeat_max_ms`` (goal <= 100: no visible stall). Lateness is the gap
between beats minus 5 ms.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_ui.py [--quick] [--seconds S]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, median, percentile, starter_model, work_dir  # noqa: E402
from dataset import write_dataset  # noqa: E402

QUESTION = "Explain in a few sentences how a LoRA adapter changes a language model."
BEAT_MS = 5
SWITCH_MS = 2000
PAGES = ("train", "monitor", "chat")


def prepare_config(home: Path, model: Path) -> Path:
    """A copy of the shipped config folder pointing at the bench model, data and folders."""
    import tomlkit

    cfg = home / "config"
    shutil.copytree(ROOT / "config", cfg)
    data = write_dataset(home / "varied.jsonl", 64)

    def edit(name: str, section: str, values: dict[str, Any]) -> None:
        path = cfg / f"{name}_config.toml"
        doc = tomlkit.parse(path.read_text(encoding="utf-8"))
        doc[section].update(values)
        path.write_text(tomlkit.dumps(doc), encoding="utf-8")

    edit("model", "model", {"path": str(model)})
    edit("training", "training", {"dataset_path": str(data), "output_dir": str(home / "runs"),
                                  "max_steps": 1000, "eval_split": 0.0, "save_steps": 100000,
                                  "logging_steps": 1, "per_device_train_batch_size": 2,
                                  "max_seq_length": 256})
    edit("inference", "generation", {"max_new_tokens": 96})
    return cfg


def _reap(pid: int | None, wait_s: float = 20.0) -> str:
    """Make sure the trainer child is gone (it runs in its own session and would outlive us)."""
    import signal

    from llamahome_gui.core.runs.liveness import is_alive as pid_alive

    if not pid:
        return "no trainer pid"
    deadline = time.perf_counter() + wait_s
    while pid_alive(pid) and time.perf_counter() < deadline:
        time.sleep(0.1)
    if not pid_alive(pid):
        return "trainer ended"
    os.kill(pid, signal.SIGKILL)
    return "trainer still running after Stop: killed"


def run(quick: bool = False, seconds: float | None = None,
        pin_trainer: bool = False) -> dict[str, Any]:
    home = work_dir("ui")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["LLAMAHOME_DATA_HOME"] = str(home / "data")
    os.environ["LLAMAHOME_CONFIG_HOME"] = str(home / "config-home")
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    measure_s = seconds or (30.0 if quick else 90.0)
    cfg = prepare_config(home, starter_model())

    from PyQt6.QtCore import Qt, QTimer

    from llamahome_gui.app import build_main_window, ensure_application

    app = ensure_application()
    window = build_main_window(cfg, appearance="light")
    window.persist_settings = False
    window.resize(1280, 800)
    window.show()
    ctx = window.ctx
    train = ctx.page("train")
    chat = ctx.page("chat")
    monitor = ctx.monitor

    stats: dict[str, Any] = {"steps": 0, "tokens": 0, "samples": 0, "answers": 0,
                             "switches": 0, "trainer_started": False, "chat_streaming": False}
    gaps: list[float] = []
    state = {"last": None, "measuring": False, "done": False, "t_measure": 0.0, "page": 0,
             "tag": ""}

    stalls: dict[str, list[float]] = {}  # what happened last before a beat came > 16 ms late

    def tag(name: str) -> None:
        state["tag"] = name

    def on_step(_e: Any) -> None:
        stats["steps"] += state["measuring"]
        tag("train step event")

    def on_started(_e: Any) -> None:
        stats["trainer_started"] = True

    def on_token(_e: Any) -> None:
        stats["chat_streaming"] = True
        stats["tokens"] += state["measuring"]
        tag("chat token")

    def on_sample(_s: Any) -> None:
        stats["samples"] += state["measuring"]
        tag("monitor sample")

    def on_answer(_e: Any) -> None:
        stats["answers"] += state["measuring"]
        tag("chat answer done")

    train.worker.started.connect(on_started)
    train.worker.step_logged.connect(on_step)
    chat.worker.token_received.connect(on_token)
    chat.worker.finished.connect(on_answer)
    monitor.sampled.connect(on_sample)

    def beat() -> None:
        now = time.perf_counter()
        if state["measuring"] and state["last"] is not None:
            late = max(0.0, (now - state["last"]) * 1e3 - BEAT_MS)
            gaps.append(late)
            if late > 16:
                stalls.setdefault(state["tag"], []).append(late)
        state["last"] = now
        state["tag"] = "other (no event seen)"
        ready = stats["trainer_started"] and stats["chat_streaming"]
        if not state["measuring"] and (ready or now - t_begin > 300):
            state["measuring"], state["t_measure"] = True, now
        if state["measuring"] and now - state["t_measure"] >= measure_s and not state["done"]:
            state["done"] = True
            finish()

    def finish() -> None:
        """Stop the answer and the run while the event loop still runs (quitting the app
        detaches the trainer on purpose: a run outlives the window)."""
        for timer in (heartbeat, chatter, switcher):
            timer.stop()
        state["trainer_pid"] = train.worker.pid
        state["states"] = [str(train.worker.state)]
        train.worker.state_changed.connect(state["states"].append)
        chat.stop()
        train.worker.stop()
        poll.start()

    def wait_for_trainer() -> None:
        if not train.worker.is_active():
            app.quit()
        elif time.perf_counter() - state["t_measure"] > measure_s + 60:
            train.worker.force_stop()  # SIGKILL; the state follows, then we quit
            state["forced"] = True

    def keep_chatting() -> None:
        if not chat.generating and not getattr(chat, "_pending_send", False):
            chat.new_chat()
            chat.send(QUESTION)

    def switch_page() -> None:
        state["page"] = (state["page"] + 1) % len(PAGES)
        ctx.navigate(PAGES[state["page"]])
        tag(f"switch to {PAGES[state['page']]} page")
        stats["switches"] += state["measuring"]

    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(BEAT_MS)
    heartbeat.timeout.connect(beat)
    chatter = QTimer()
    chatter.setInterval(200)
    chatter.timeout.connect(keep_chatting)
    switcher = QTimer()
    switcher.setInterval(SWITCH_MS)
    switcher.timeout.connect(switch_page)
    poll = QTimer()
    poll.setInterval(100)
    poll.timeout.connect(wait_for_trainer)

    t_begin = time.perf_counter()
    ctx.navigate("train")
    run_dir = train.start_run(confirm=False)
    if run_dir is None:
        raise RuntimeError("the Train page did not start a run (invalid settings?)")
    if pin_trainer and train.worker.pid:  # experiment: the trainer sees (and uses) one core
        os.sched_setaffinity(train.worker.pid, {max(os.sched_getaffinity(0))})
    chat.send(QUESTION)
    heartbeat.start()
    chatter.start()
    switcher.start()
    app.exec()
    waited = state["t_measure"] - t_begin
    poll.stop()
    ended = _reap(state.get("trainer_pid"))
    print(f"  ui: trainer {state.get('trainer_pid')} states {' > '.join(state.get('states', []))}"
          f"; {ended}", file=sys.stderr)
    chat.shutdown()
    window.close()
    app.processEvents()
    return {
        "ui_heartbeat_p99_ms": round(percentile(gaps, 99), 2),
        "ui_heartbeat_max_ms": round(max(gaps), 2) if gaps else None,
        "ui_heartbeat_p50_ms": round(median(gaps), 2),
        "ui_heartbeat_p90_ms": round(percentile(gaps, 90), 2),
        "ui_activity": {"seconds": measure_s, "beats": len(gaps),
                        "waited_for_start_s": round(waited, 1), **stats,
                        "run_dir": str(run_dir)},
        "ui_stalls_over_16ms": {k: {"count": len(v), "max_ms": round(max(v), 1)}
                                for k, v in sorted(stalls.items(), key=lambda kv: -len(kv[1]))},
    }


def main() -> None:
    p = argparse.ArgumentParser(description="window heartbeat while training, monitor, chat run")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seconds", type=float, help="measuring time (default 30 quick, 90 full)")
    p.add_argument("--json-out", type=Path, help="also write the result here")
    p.add_argument("--switch-interval", type=float,
                   help="experiment: sys.setswitchinterval(S) first (GIL hand-over latency)")
    p.add_argument("--pin-trainer", action="store_true",
                   help="experiment: give the trainer child one core (it then uses 1 thread)")
    p.add_argument("--torch-threads", type=int,
                   help="experiment: torch.set_num_threads(N) in the window process (chat)")
    a = p.parse_args()
    if a.switch_interval:
        sys.setswitchinterval(a.switch_interval)
    if a.torch_threads:
        import torch

        torch.set_num_threads(a.torch_threads)
    result = run(a.quick, a.seconds, a.pin_trainer)
    text = json.dumps(result, indent=2)
    if a.json_out:
        a.json_out.write_text(text)
    print(text)
    os._exit(0)  # worker threads of a closed window must not hold the process


if __name__ == "__main__":
    main()
