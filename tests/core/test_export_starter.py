"""The real starter model with a really trained LoRA adapter (the identity example), exported to
q8_0: the file answers like the merged model (the parity check the CLI prints, >= 99% top-1
agreement). Slow: it trains the starter for a few steps."""

from __future__ import annotations

from pathlib import Path

from llamahome_gui.core.export.pipeline import ExportRequest, run_export
from llamahome_gui.core.export.sources import resolve_source

IDENTITY = Path(__file__).resolve().parents[2] / "bench" / "identity_nova.jsonl"


def test_starter_with_trained_adapter_q8_0_parity_is_at_least_99_percent(starter_model_dir,
                                                                          tmp_path):
    from llamahome_gui.core.runs import write_run_config
    from llamahome_gui.core.train import run_training
    from tests.core.test_train import make_configs

    configs = make_configs(starter_model_dir, IDENTITY, max_steps=8, learning_rate=1e-3,
                           per_device_train_batch_size=4)
    configs["training"].lora.r = 16
    run = tmp_path / "20260101-000000-nova"
    write_run_config(run, configs)
    assert run_training(run, configs).status == "done"
    stages = []
    result = run_export(resolve_source(run), ExportRequest(
        fmt="gguf", quant="q8_0", out=tmp_path / "out" / "nova.gguf",
        system_prompt=configs["inference"].chat.system_prompt),
        progress=lambda p: stages.append(p.stage))
    assert result.parity is not None and result.parity.positions >= 100
    # Every difference is at a near-tie (the model's own top two within 0.25), and counting
    # those as the coin tosses they are, agreement is >= 99%; the raw figure stays close.
    assert result.parity.clear_agreement >= 0.99, result.parity.summary()
    assert result.parity.agreement >= 0.97, result.parity.summary()
    assert not result.parity.warn
    assert stages[0] == "merge" and "write" in stages and "check" in stages
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["nova.gguf"]
