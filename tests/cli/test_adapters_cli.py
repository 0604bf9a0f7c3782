"""``llamahome adapters merge`` (an alias of ``export --format safetensors``): the merged model
answers exactly like base + adapter."""

from __future__ import annotations

from llamahome_gui.cli import main
from llamahome_gui.core.train import run_training
from tests.core.test_train import make_configs, write_alpaca


def test_merge_writes_a_model_equal_to_base_plus_adapter(tiny_model_dir, tmp_path, capsys):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    configs = make_configs(tiny_model_dir, write_alpaca(tmp_path / "d.json"), max_steps=3,
                           learning_rate=5e-2)
    run_training(tmp_path / "run", configs)
    adapter, out = tmp_path / "run" / "adapter", tmp_path / "merged"
    code = main(["adapters", "merge", "--model", str(tiny_model_dir), "--adapter", str(adapter),
                 "--out", str(out)])
    assert code == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(out)
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    assert not (out / "adapter_config.json").exists()
    ids = torch.tensor([[1, 50, 200, 3000, 7]])
    merged = AutoModelForCausalLM.from_pretrained(out, use_safetensors=True)
    peft_model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                                           str(adapter))
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        want = peft_model(input_ids=ids).logits
        torch.testing.assert_close(merged(input_ids=ids).logits, want, rtol=1e-4, atol=1e-4)
        assert not torch.allclose(base(input_ids=ids).logits, want, atol=1e-4)


def test_merge_errors_name_the_problem(tiny_model_dir, tmp_path, capsys):
    assert main(["adapters", "merge", "--model", str(tiny_model_dir), "--adapter",
                 str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "is not a LoRA adapter folder" in capsys.readouterr().err
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    configs = make_configs(tiny_model_dir, write_alpaca(tmp_path / "d.json"), max_steps=1)
    run_training(tmp_path / "run", configs)
    assert main(["adapters", "merge", "--model", str(tiny_model_dir), "--adapter",
                 str(tmp_path / "run" / "adapter"), "--out", str(busy)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert [p.name for p in busy.iterdir()] == ["x"]
