"""Several training processes without a launcher typed by the user: ``llamahome train`` (and
so the Train button, which runs it) starts itself again under ``torchrun`` when
``training.training.num_processes`` asks for more than one process.

torchrun's ``--standalone`` rendezvous picks a free local port, so two runs never collide;
on a CPU the ranks talk over gloo (``distributed.setup``). The parent creates the run folder
and its ``run.toml`` first, and every rank is pointed at it.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def process_count(training: Any, resource: Any, device: str) -> int:
    """How many processes the run uses: ``num_processes``, where 0 means one per selected
    GPU (``resource.gpu.cuda_devices``, else every visible GPU) and 1 on a CPU."""
    wanted = int(training.num_processes)
    if wanted > 0:
        return wanted
    if not device.startswith("cuda"):
        return 1
    chosen = list(getattr(resource.gpu, "cuda_devices", []) or [])
    if chosen:
        return len(chosen)
    import torch

    return max(1, torch.cuda.device_count())


def launched() -> bool:
    """Whether this process is already one rank of a launched run."""
    return "WORLD_SIZE" in os.environ and "LOCAL_RANK" in os.environ


def torchrun_command(processes: int, cli_args: list[str]) -> list[str]:
    """The command that runs ``llamahome <cli_args>`` as ``processes`` ranks on this machine."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc-per-node={processes}", "-m", "llamahome_gui", *cli_args]
