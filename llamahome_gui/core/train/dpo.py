"""Preference tuning (DPO) inside our own loop, so packing, events, exact resume, early
stopping and several processes work as they do for SFT.

Why not TRL's DPOTrainer: it brings its own loop, logging, checkpoints and launcher, so the
run events, the step-exact resume and the Train page would all need a second code path.
Here DPO is a different loss over the same rows.

Each pair becomes two samples (context + chosen, context + rejected) laid end to end in one
row with positions restarting at 0, so attention never crosses them and both always share a
micro-batch; with ``training.training.packing`` several pairs share a row. A sample's
log-probability is the sum over its answer tokens only (the context is never counted).

The reference is the base model: the same forward pass with the adapter disabled, under
``no_grad``, computed once per sample and kept (the base weights never change), so later
epochs cost one forward less. ``training.dpo.reference = none`` uses 0 (reference-free).

The loss of a step is the sum of the pair losses over the number of pairs in the whole step
(all micro-batches, all ranks): accumulation and data parallelism give the one-big-batch
gradient, as the token-normalised SFT loss does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llamahome_gui.core.train import distributed as dd
from llamahome_gui.core.train.batching import IGNORE, Row, Sample, collate, pack, split_eval
from llamahome_gui.core.train.errors import TrainingError
from llamahome_gui.core.train.prepare import Prepared, dataset_path

if TYPE_CHECKING:
    import torch

REWARD_KEYS = ("rewards_chosen", "rewards_rejected", "reward_margin", "reward_accuracy")


@dataclass
class PairSample(Sample):
    """One side of a pair: ``pair`` numbers the pair in the dataset, ``chosen`` the side."""

    pair: int = 0
    chosen: bool = True


class _Unit:
    """A pair as one packable item (``pack`` only needs ``input_ids``' length)."""

    def __init__(self, chosen: PairSample, rejected: PairSample) -> None:
        self.samples = [chosen, rejected]
        self.input_ids = chosen.input_ids + rejected.input_ids


def load_pairs(training: Any) -> Any:
    """The preference file's pairs, before the model loads (bad data fails fast)."""
    from llamahome_gui.core.data import DatasetError, load_preferences, parse_dataset

    path = dataset_path(training)
    try:
        probe, _ = parse_dataset(path, training.dataset_format)
    except DatasetError:
        probe = None
    if probe is not None and probe.format != "preference":
        raise TrainingError(
            f"training.training.method = dpo needs preference data, but {path.name} is "
            f"{probe.format} data",
            hint="give records with a prompt plus \"chosen\" and \"rejected\" answers, or set "
            "training.training.method = sft")
    try:
        prefs = load_preferences(path)
    except DatasetError as exc:
        raise TrainingError(f"the preference data has bad records:\n{exc}",
                            hint=f"fix the lines named above (llamahome data check {path})") from exc
    if len(prefs) < 1:
        raise TrainingError(f"{path} holds no preference pairs", hint="add some pairs")
    return prefs


def _answer_only(labels: list[int]) -> list[int]:
    """Keep the last trained run (the final answer); earlier assistant turns of a chat
    context are context here."""
    end = len(labels)
    while end > 0 and labels[end - 1] == IGNORE:
        end -= 1
    start = end
    while start > 0 and labels[start - 1] != IGNORE:
        start -= 1
    return [IGNORE] * start + labels[start:end] + [IGNORE] * (len(labels) - end)


def prepare_pairs(training: Any, prefs: Any, tokenizer: Any, system_prompt: str | None) -> Prepared:
    """Split, render and lay out the pairs (one row per pair, or packed)."""
    from llamahome_gui.core.data import TemplateError, render_examples

    pairs = prefs.pairs
    conversations = [p.with_answer(p.chosen) for p in pairs] + \
        [p.with_answer(p.rejected) for p in pairs]
    try:
        rendered = render_examples(conversations, tokenizer, training.max_seq_length,
                                   system_prompt or None, list(prefs.locations) * 2 or None)
    except TemplateError as exc:
        raise TrainingError(str(exc), hint="DPO needs a chat/instruct model") from exc
    n = len(pairs)
    units: list[_Unit | None] = []
    truncated = skipped = 0
    for i in range(n):
        sides = []
        for k, example in ((0, rendered[i]), (1, rendered[n + i])):
            truncated += bool(example.truncated)
            labels = _answer_only(example.labels)
            targets = labels[1:] + [IGNORE]
            sides.append(PairSample(list(example.input_ids), targets, pair=i, chosen=k == 0))
        if any(s.counted == 0 for s in sides):
            skipped += 1
            units.append(None)
        else:
            units.append(_Unit(*sides))
    train_idx, eval_idx = split_eval(n, training.eval_split, training.seed)
    train = [u for i in train_idx if (u := units[i]) is not None]
    evals = [u for i in eval_idx if (u := units[i]) is not None]
    if not train:
        raise TrainingError(
            f"{prefs.path}: no pair keeps answer tokens after max_seq_length="
            f"{training.max_seq_length} truncation",
            hint="raise training.training.max_seq_length or shorten the prompts")
    cap = max(len(u.input_ids) for u in train + evals)

    def rows(part: list[_Unit]) -> list[Row]:
        if not training.packing:
            return [Row(list(u.samples)) for u in part]
        return [Row([s for u in row.samples for s in u.samples])  # type: ignore[attr-defined]
                for row in pack(part, cap)]  # type: ignore[arg-type]

    notes = [f"DPO on {len(train)} pairs ({len(evals)} held out)"]
    if truncated:
        notes.append(f"{truncated} answers were cut to max_seq_length={training.max_seq_length}")
    if skipped:
        notes.append(f"{skipped} pairs have no answer tokens left and are skipped")
    return Prepared(
        dataset_path=prefs.path, dataset_format="preference", records=n,
        train_rows=rows(train), eval_rows=rows(evals), train_samples=len(train),
        eval_samples=len(evals), truncated=truncated, skipped=skipped,
        train_tokens=sum(len(u.input_ids) for u in train), notes=notes)


def collate_pairs(batch: list[Row], pad_id: int) -> dict[str, Any]:
    """``collate`` plus, per position, the index of its sample (-1 for padding) and, per
    sample, its (pair, chosen) key."""
    import torch

    out = collate(batch, pad_id)
    seq = torch.full(out["input_ids"].shape, -1, dtype=torch.long)
    keys: list[tuple[int, bool]] = []
    for b, row in enumerate(batch):
        at = 0
        for s in row.samples:
            n = len(s.input_ids)
            seq[b, at:at + n] = len(keys)
            keys.append((s.pair, s.chosen))  # type: ignore[attr-defined]
            at += n
    out["seq"] = seq
    out["keys"] = keys
    return out


def pair_count(batch: dict[str, Any]) -> float:
    return len(batch["keys"]) / 2.0


class DpoObjective:
    """The DPO loss of a collated batch, with reward statistics gathered per phase.

    ``forward(batch) -> (logits, targets, mask)`` is the trainer's own forward pass (logits
    only at the positions the loss counts).
    """

    def __init__(self, model: Any, forward: Any, dpo: Any) -> None:
        self.model = model
        self.forward = forward
        self.beta = float(dpo.beta)
        self.kind = dpo.loss
        self.reference = dpo.reference
        self._ref: dict[tuple[int, bool], tuple[float, int]] = {}
        self._acc = {True: [0.0] * 5, False: [0.0] * 5}  # by model.training

    def _sequence_logps(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """(sum of answer-token log-probs, answer-token count) per sample."""
        import torch

        logits, targets, mask = self.forward(batch)
        logp = -torch.nn.functional.cross_entropy(logits.float(), targets, reduction="none")
        seq = batch["seq"].to(logp.device)[mask]
        n = len(batch["keys"])
        sums = torch.zeros(n, device=logp.device, dtype=logp.dtype).index_add(0, seq, logp)
        counts = torch.zeros(n, device=logp.device).index_add(0, seq, torch.ones_like(logp))
        return sums, counts

    def _reference(self, batch: dict[str, Any], device: Any) -> torch.Tensor:
        import torch

        keys = batch["keys"]
        if self.reference == "none":
            return torch.zeros(len(keys), device=device)
        if any(k not in self._ref for k in keys):
            with torch.no_grad(), self.model.disable_adapter():
                sums, counts = self._sequence_logps(batch)
            for k, s, c in zip(keys, sums.tolist(), counts.tolist(), strict=True):
                self._ref[k] = (s, int(c))
        return torch.tensor([self._ref[k][0] for k in keys], device=device, dtype=torch.float32)

    def loss_sum(self, batch: dict[str, Any]) -> torch.Tensor:
        """The summed pair losses of this batch (the trainer divides by the step's pairs)."""
        import torch
        import torch.nn.functional as F

        policy, counts = self._sequence_logps(batch)
        ref = self._reference(batch, policy.device)
        chosen = torch.tensor([c for _, c in batch["keys"]], device=policy.device)
        pairs = torch.tensor([p for p, _ in batch["keys"]], device=policy.device)
        # Order each pair's two samples: rows hold chosen then rejected, so sort by pair.
        order_c = torch.nonzero(chosen).squeeze(1)
        order_r = torch.nonzero(~chosen).squeeze(1)
        order_c = order_c[torch.argsort(pairs[order_c])]
        order_r = order_r[torch.argsort(pairs[order_r])]
        if self.kind == "ipo":  # IPO works on mean log-probs per answer token
            policy, ref = policy / counts.clamp(min=1), ref / counts.clamp(min=1)
        chosen_ratio = policy[order_c] - ref[order_c]
        rejected_ratio = policy[order_r] - ref[order_r]
        logits = chosen_ratio - rejected_ratio
        if self.kind == "ipo":
            losses = (logits - 1.0 / (2.0 * self.beta)) ** 2
        elif self.kind == "hinge":
            losses = F.relu(1.0 - self.beta * logits)
        else:
            losses = -F.logsigmoid(self.beta * logits)
        with torch.no_grad():
            r_c, r_r = self.beta * chosen_ratio.detach(), self.beta * rejected_ratio.detach()
            acc = self._acc[bool(self.model.training)]
            for i, value in enumerate((r_c.sum(), r_r.sum(), (r_c - r_r).sum(),
                                       (r_c > r_r).float().sum())):
                acc[i] += float(value)
            acc[4] += float(len(losses))
        return losses.sum()

    def take(self, training: bool, dist: dd.Dist, device: Any) -> dict[str, float]:
        """Mean rewards since the last call for the training or eval phase, over all ranks."""
        acc = self._acc[training]
        self._acc[training] = [0.0] * 5
        totals = dd.all_sum(dist, acc, device)
        pairs = totals[4]
        if pairs <= 0:
            return {}
        return {key: round(value / pairs, 6) for key, value in zip(REWARD_KEYS, totals[:4],
                                                                    strict=True)}
