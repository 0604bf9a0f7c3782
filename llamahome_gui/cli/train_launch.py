"""``llamahome train`` with ``training.training.num_processes`` above 1: this process becomes
the launcher. It checks the memory once, creates the run folder with its ``run.toml``, and
runs ``torchrun`` with one ``llamahome train --run-dir RUN`` per rank; Ctrl+C / Stop reach
the ranks through torchrun (each saves and stops at the same step boundary).

The ranks started here exit 0 after a stop or a reported failure (torchrun would print a
failure report over the run's own one-line message); the launcher's exit code comes from the
run's last event instead: 0 done, 130 stopped, 1 failed.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

LAUNCHED_ENV = "LLAMAHOME_LAUNCHED_RANK"


def processes_for(configs: dict[str, Any]) -> int:
    from llamahome_gui.core.models.loading import pick_device
    from llamahome_gui.core.train.launch import process_count

    try:
        device = pick_device(configs["model"].model.device)
    except RuntimeError:
        return 1  # the trainer reports the missing device itself
    return process_count(configs["training"].training, configs["resource"], device)


def rank_exit_code(code: int) -> int:
    """A rank this launcher started leaves the verdict to the launcher (see the module)."""
    if os.environ.get(LAUNCHED_ENV) == "1" and code in (1, 130):
        return 0
    return code


def launch(args: argparse.Namespace, plan: Any, run_dir: Path | None, processes: int,
           human: TextIO, preflight: Callable[[], int | None]) -> int:
    """Run the whole training as ``processes`` ranks; the exit code of the run."""
    from llamahome_gui.core.runs.events import RunFailed, RunFinished, RunStopped, read_events
    from llamahome_gui.core.train.launch import torchrun_command

    code = preflight()
    if code is not None:
        return code
    if args.resume is not None:
        cli = ["train", "--resume", str(args.resume)]
        run_dir = args.resume
    else:
        run_dir = plan.create(run_dir)
        cli = ["train", "--run-dir", str(run_dir)]
    cli.append("--force")  # the estimate above was for the whole run
    if args.events == "-":
        cli += ["--events", "-"]
    if getattr(args, "trust_remote_code", False):
        cli.append("--trust-remote-code")
    device = plan.configs["model"].model.device
    print(f"starting {processes} training processes with torchrun "
          f"({'gloo on the CPU' if device == 'cpu' or not _has_cuda() else 'NCCL'})",
          file=human, flush=True)
    env = {**os.environ, LAUNCHED_ENV: "1"}
    child = subprocess.Popen(torchrun_command(processes, cli), env=env)

    def forward(signum: int, frame: Any) -> None:
        child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        returncode = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    events = read_events(run_dir)
    last = next((e for e in reversed(events)
                 if isinstance(e, (RunFinished, RunStopped, RunFailed))), None)
    if isinstance(last, RunFinished):
        return 0
    if isinstance(last, RunStopped):
        return 130
    if last is None and returncode:
        print(f"error: the training processes ended with exit code {returncode} before the "
              "run started; their output is above", file=sys.stderr)
    return 1 if returncode or isinstance(last, RunFailed) or last is None else 0


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()
