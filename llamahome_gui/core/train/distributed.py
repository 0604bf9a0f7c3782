"""Data-parallel runs under ``torchrun`` or ``accelerate launch``, with no change by the user.

Both launchers set ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
``MASTER_PORT``; when ``WORLD_SIZE`` > 1 we join a torch.distributed group (NCCL on GPUs,
gloo on the CPU). Each rank trains on its own share of the batches; gradients of the LoRA
parameters (a few MB) are summed with one all-reduce per optimizer step. The loss is divided
by the token count of the whole step across all ranks, so the summed gradient is exactly the
single-process gradient. Only rank 0 writes events, checkpoints and the adapter.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    initialized: bool = False

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def setup(device: str) -> tuple[Dist, str]:
    """Join the process group if launched by torchrun/accelerate; returns (dist, device)."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return Dist(), device
    import torch
    import torch.distributed as td

    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("cuda"):
        device = f"cuda:{local}"
        torch.cuda.set_device(local)
        backend = "nccl"
    else:
        backend = "gloo"
    if not td.is_initialized():
        td.init_process_group(backend=backend)
    return Dist(rank=rank, world=world, local_rank=local, initialized=True), device


def all_sum(dist: Dist, values: list[float], device: Any) -> list[float]:
    """Sum plain numbers over all ranks (identity in a single process)."""
    if not dist.active:
        return values
    import torch
    import torch.distributed as td

    t = torch.tensor(values, dtype=torch.float64, device=device)
    td.all_reduce(t)
    return t.tolist()


def gather_objects(dist: Dist, obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order (``[obj]`` in a single process)."""
    if not dist.active:
        return [obj]
    import torch.distributed as td

    out: list[Any] = [None] * dist.world
    td.all_gather_object(out, obj)
    return out


def all_sum_grads(dist: Dist, params: list[Any]) -> None:
    """Sum the gradients of ``params`` over all ranks in one flat all-reduce."""
    if not dist.active:
        return
    import torch
    import torch.distributed as td

    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    td.all_reduce(flat)
    at = 0
    for p, g in zip(params, grads, strict=True):
        n = g.numel()
        p.grad = flat[at:at + n].view_as(p).clone()
        at += n


def barrier(dist: Dist) -> None:
    if dist.active:
        import torch.distributed as td

        td.barrier()


def teardown(dist: Dist) -> None:
    if dist.initialized:
        import torch.distributed as td

        if td.is_initialized():
            td.destroy_process_group()
