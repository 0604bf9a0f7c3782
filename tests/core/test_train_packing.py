"""Packing: several examples in one row must give exactly the logits each gets alone."""

from __future__ import annotations

import pytest

from llamahome_gui.core.train.batching import (
    IGNORE,
    Row,
    collate,
    epoch_batches,
    pack,
    split_eval,
    to_sample,
)


def _sample(n: int, start: int = 10):
    ids = list(range(start, start + n))
    return to_sample(ids, [IGNORE] * (n // 2) + ids[n // 2:])


def test_targets_are_shifted_inside_each_example():
    s = to_sample([1, 2, 3, 4], [IGNORE, IGNORE, 3, 4])
    assert s.targets == [IGNORE, 3, 4, IGNORE]  # the last token predicts nothing
    assert s.counted == 2


def test_pack_fills_rows_without_exceeding_capacity():
    samples = [_sample(n) for n in (30, 50, 20, 70, 10, 60, 40)]
    rows = pack(samples, 100)
    assert all(r.length <= 100 for r in rows)
    assert sorted(len(s.input_ids) for r in rows for s in r.samples) == [10, 20, 30, 40, 50, 60, 70]
    assert len(rows) == 3  # 280 tokens: the best possible with rows of 100


def test_epoch_order_is_deterministic_and_changes_per_epoch():
    rows = [Row([_sample(n)]) for n in range(5, 45)]
    a = epoch_batches(rows, 4, seed=1, epoch=0, group_by_length=True)
    b = epoch_batches(rows, 4, seed=1, epoch=0, group_by_length=True)
    c = epoch_batches(rows, 4, seed=1, epoch=1, group_by_length=True)
    lengths = [[r.length for r in batch] for batch in a]
    assert lengths == [[r.length for r in batch] for batch in b]
    assert lengths != [[r.length for r in batch] for batch in c]
    # length grouping: within a batch lengths differ by little
    assert max(max(x) - min(x) for x in lengths) <= 8


def test_eval_split_is_disjoint_and_seeded():
    train, held = split_eval(50, 0.1, seed=3)
    assert len(held) == 5 and not set(train) & set(held) and len(train) + len(held) == 50
    assert split_eval(50, 0.1, seed=3) == (train, held)
    assert split_eval(50, 0.0, seed=3) == (list(range(50)), [])


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_row_logits_equal_separate_runs(tiny_model_dir, attn):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation=attn)
    model.eval()
    gen = torch.Generator().manual_seed(0)
    samples = [to_sample(torch.randint(5, 4000, (n,), generator=gen).tolist(), [IGNORE] * n)
               for n in (7, 13, 5)]
    batch = collate([Row(samples), Row([samples[1]])], pad_id=0)
    assert batch["position_ids"][0].tolist()[:8] == [0, 1, 2, 3, 4, 5, 6, 0]
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"],
                       use_cache=False).logits
        at = 0
        for s in samples:
            alone = model(input_ids=torch.tensor([s.input_ids]), use_cache=False).logits[0]
            n = len(s.input_ids)
            torch.testing.assert_close(packed[0, at:at + n], alone, rtol=1e-4, atol=1e-4)
            at += n
        # the padded second row: its real tokens are unaffected by the padding after them
        alone = model(input_ids=torch.tensor([samples[1].input_ids]), use_cache=False).logits[0]
        torch.testing.assert_close(packed[1, :13], alone, rtol=1e-4, atol=1e-4)
    # without the position restarts the second example would see the first: logits differ
    with torch.no_grad():
        crossed = model(input_ids=batch["input_ids"][:1], use_cache=False).logits
    assert not torch.allclose(crossed[0, 7:20], packed[0, 7:20], atol=1e-3)
