"""The environment a trainer process gets from ``resource.gpu``: which GPUs it sees and how
PyTorch's GPU memory pool grows. Set before CUDA starts, in the trainer's own process, so
the window, ``llamahome train`` and each ``torchrun`` / ``accelerate`` worker agree."""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from typing import Any

GROWTH = "expandable_segments:True"


def gpu_env(gpu: Any, env: Mapping[str, str]) -> dict[str, str]:
    """The variables to set for ``gpu`` (the ``resource.gpu`` section) over ``env``.

    ``cuda_devices`` becomes ``CUDA_VISIBLE_DEVICES`` with ``CUDA_DEVICE_ORDER=PCI_BUS_ID``, so
    the numbers mean the same GPUs as in nvidia-smi and on the Monitor page; ``allow_growth``
    adds expandable segments to ``PYTORCH_CUDA_ALLOC_CONF`` (kept when the user set it)."""
    out: dict[str, str] = {}
    if gpu.cuda_devices:
        out["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
        out["CUDA_VISIBLE_DEVICES"] = ",".join(str(int(i)) for i in gpu.cuda_devices)
    conf = env.get("PYTORCH_CUDA_ALLOC_CONF", "")
    if gpu.allow_growth and "expandable_segments" not in conf:
        out["PYTORCH_CUDA_ALLOC_CONF"] = f"{conf},{GROWTH}" if conf else GROWTH
    return out


def apply_gpu_env(gpu: Any, env: MutableMapping[str, str] = os.environ) -> dict[str, str]:
    """Set :func:`gpu_env` in ``env`` (this process by default); returns what was set."""
    wanted = gpu_env(gpu, env)
    env.update(wanted)
    return wanted
