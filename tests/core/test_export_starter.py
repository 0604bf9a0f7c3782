"""The real starter model with a real LoRA adapter, exported to q8_0: the file answers like the
merged model (the parity check the CLI prints, >= 99% top-1 agreement)."""

from __future__ import annotations

from llamahome_gui.core.export.pipeline import ExportRequest, run_export
from llamahome_gui.core.export.sources import resolve_source


def _adapter(model_dir, folder):
    """A PEFT LoRA adapter whose update is not zero (seeded), saved as PEFT saves it. Its size
    matches the identity adapter `llamahome train` makes on this model (r=16, alpha=32,
    lora_B std about 0.006)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(model_dir),
                           LoraConfig(r=16, lora_alpha=32, target_modules="all-linear"))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0.0, 0.006)
    model.save_pretrained(folder)
    return folder


def test_starter_with_adapter_q8_0_parity_is_at_least_99_percent(starter_model_dir, tmp_path):
    adapter = _adapter(starter_model_dir, tmp_path / "adapter")
    source = resolve_source(adapter, starter_model_dir)
    stages = []
    result = run_export(source, ExportRequest(fmt="gguf", quant="q8_0",
                                              out=tmp_path / "out" / "s.gguf",
                                              system_prompt="You are a helpful assistant."),
                        progress=lambda p: stages.append(p.stage))
    assert result.parity is not None and result.parity.positions >= 100
    assert result.parity.agreement >= 0.99, result.parity.summary()
    assert not result.parity.warn
    assert stages[0] == "merge" and "write" in stages and "check" in stages
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["s.gguf"]
