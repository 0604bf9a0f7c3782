"""Turning rendered examples into batches that waste no compute on padding.

Two ways, chosen by ``training.training.packing``:

- packing: examples are bin-packed (best fit, longest first) into rows as long as the
  longest example (at most ``max_seq_length``), so a batch has the shape a padded batch of
  the longest examples would have, filled with whole examples instead of padding. Positions restart at 0 for each example; transformers turns the
  restarts into a block-diagonal causal mask (flash-attention kernels into varlen calls), so no
  token attends across examples. Targets are shifted inside each example, so the last token of
  one example never learns to predict the first of the next.
- length grouping: each row is one example; examples of similar length share a batch, so
  padding is a few tokens at most.

Padding goes at the end of a row and continues the last example's positions: under a causal
mask nothing real can see it, and rows without restarts need no mask at all (the fast path).
Row layout is fixed once per run; only the order of rows changes per epoch, so the number of
steps per epoch is constant and a step number alone tells where in the data a run is.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from typing import Any

IGNORE = -100


@dataclass
class Sample:
    """One example: token ids and, per position, the token it must predict (or -100)."""

    input_ids: list[int]
    targets: list[int]

    @property
    def counted(self) -> int:
        return sum(1 for t in self.targets if t != IGNORE)


def to_sample(input_ids: list[int], labels: list[int]) -> Sample:
    """Shift HF-style labels (aligned with inputs) into next-token targets."""
    targets = list(labels[1:]) + [IGNORE]
    return Sample(list(input_ids), targets)


@dataclass
class Row:
    """A training row: one or more samples laid end to end."""

    samples: list[Sample]

    @property
    def length(self) -> int:
        return sum(len(s.input_ids) for s in self.samples)


def pack(samples: list[Sample], capacity: int) -> list[Row]:
    """Best-fit-decreasing bin packing of samples into rows of at most ``capacity`` tokens."""
    order = sorted(range(len(samples)), key=lambda i: (-len(samples[i].input_ids), i))
    rows: list[Row] = []
    free: list[tuple[int, int]] = []  # sorted (remaining capacity, row index)
    for i in order:
        need = len(samples[i].input_ids)
        at = bisect.bisect_left(free, (need, -1))
        if at < len(free):
            remaining, r = free.pop(at)
            rows[r].samples.append(samples[i])
            bisect.insort(free, (remaining - need, r))
        else:
            rows.append(Row([samples[i]]))
            bisect.insort(free, (capacity - need, len(rows) - 1))
    return rows


def epoch_batches(rows: list[Row], batch_size: int, seed: int, epoch: int,
                  group_by_length: bool) -> list[list[Row]]:
    """The batches of one epoch, in a deterministic order for (seed, epoch)."""
    rng = random.Random(seed * 1_000_003 + epoch)
    idx = list(range(len(rows)))
    rng.shuffle(idx)
    if group_by_length:
        chunk = batch_size * 64
        grouped: list[int] = []
        for start in range(0, len(idx), chunk):
            part = idx[start:start + chunk]
            grouped.extend(sorted(part, key=lambda i: -rows[i].length))
        idx = grouped
    batches = [[rows[i] for i in idx[s:s + batch_size]] for s in range(0, len(idx), batch_size)]
    if group_by_length:
        rng.shuffle(batches)
    return batches


def rank_batches(batches: list[list[Row]], rank: int, world: int) -> list[list[Row]]:
    """This rank's share of an epoch's batches; every rank gets the same number (the few
    left over are dropped, too few are repeated) so collective calls stay in step."""
    if world <= 1:
        return batches
    per_rank = max(1, len(batches) // world)
    if len(batches) < world:
        batches = (batches * world)[:world]
    return batches[rank::world][:per_rank]


def collate(batch: list[Row], pad_id: int) -> dict[str, Any]:
    """Tensors for one batch: input_ids, position_ids, targets (all [rows, longest row])."""
    import torch

    width = max(r.length for r in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    pos = torch.zeros((len(batch), width), dtype=torch.long)
    tgt = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    for b, row in enumerate(batch):
        at = 0
        for s in row.samples:
            n = len(s.input_ids)
            ids[b, at:at + n] = torch.tensor(s.input_ids, dtype=torch.long)
            tgt[b, at:at + n] = torch.tensor(s.targets, dtype=torch.long)
            pos[b, at:at + n] = torch.arange(n)
            at += n
        if at < width:
            last = len(row.samples[-1].input_ids)
            pos[b, at:] = torch.arange(last, last + width - at)
    return {"input_ids": ids, "position_ids": pos, "targets": tgt}


def split_eval(n: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Deterministic (train, eval) record indices; eval gets at least one record when asked."""
    if fraction <= 0 or n < 2:
        return list(range(n)), []
    idx = list(range(n))
    random.Random(seed).shuffle(idx)
    k = min(n - 1, max(1, round(n * fraction)))
    return sorted(idx[k:]), sorted(idx[:k])
