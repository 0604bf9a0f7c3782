"""GGUF headers and the GGUF import, on GGUF files the tests write themselves."""

from __future__ import annotations

import hashlib
import json

import pytest

from llamahome_gui.core.models.gguf_header import GGUFError, check_importable, read_gguf_header
from llamahome_gui.core.models.gguf_import import (
    IMPORT_MARKER,
    ImportCancelled,
    ModelImportError,
    import_gguf,
)
from tests.gguf_support import write_tiny_gguf


def test_header_facts_without_loading_weights(tiny_ggufs):
    llama = read_gguf_header(tiny_ggufs["llama"])
    qwen = read_gguf_header(tiny_ggufs["qwen2"])
    assert (llama.architecture, llama.quantization, llama.context_length) == ("llama", "Q8_0", 512)
    assert (qwen.architecture, qwen.quantization) == ("qwen2", "F16")
    # the qwen2 file has three attention biases (64 + 32 + 32) per layer more
    assert qwen.parameters - llama.parameters == 2 * 128
    assert llama.has_chat_template and llama.vocab_size == 267
    assert llama.tensors[0].name == "token_embd.weight" and llama.tensors[0].shape == (267, 64)


def test_bad_files_get_one_line_each(tmp_path, tiny_ggufs):
    data = tiny_ggufs["llama"].read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(GGUFError, match=r"cut.gguf is truncated \(51,904 of 103,808 bytes\)"):
        read_gguf_header(cut)
    (tmp_path / "head.gguf").write_bytes(data[:100])
    with pytest.raises(GGUFError, match="truncated .the header ends early"):
        read_gguf_header(tmp_path / "head.gguf")
    (tmp_path / "notes.gguf").write_text("hello")
    with pytest.raises(GGUFError, match="not a GGUF file"):
        read_gguf_header(tmp_path / "notes.gguf")
    odd = write_tiny_gguf(tmp_path / "odd.gguf", "rwkv9")
    with pytest.raises(GGUFError, match=r"architecture 'rwkv9' cannot be converted; supported: "
                       r".*llama.*qwen2"):
        check_importable(read_gguf_header(odd))
    for bad in (cut, odd):
        assert "\n" not in str(pytest.raises(GGUFError, import_gguf, bad, tmp_path / "m").value)
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_import_gives_the_same_model_as_the_gguf(tmp_path, tiny_ggufs, arch):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = tiny_ggufs[arch]
    stages = []
    folder = import_gguf(source, tmp_path, progress=lambda s, d, t: stages.append((s, d, t)))
    assert folder == tmp_path / f"tiny-{arch}"
    marker = json.loads((folder / IMPORT_MARKER).read_text())
    assert marker["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert marker["architecture"] == arch and marker["file"] == source.name
    names = [s for s, *_ in stages]
    assert names[0].startswith("Checking") and names[-1] == f"Model ready: {folder}"
    dequant = [(d, t) for s, d, t in stages if s == "De-quantizing the weights"]
    assert dequant[-1][0] == dequant[-1][1] > 10  # one report per tensor, ending at 100 %

    tokenizer = AutoTokenizer.from_pretrained(folder)
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "the cat"}],
                                           tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n")
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    converted = AutoModelForCausalLM.from_pretrained(folder, use_safetensors=True)
    direct = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name)
    with torch.no_grad():
        assert torch.equal(converted(ids).logits, direct(ids).logits)
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]


def test_duplicate_and_name_clash_are_refused(tmp_path, tiny_ggufs):
    first = import_gguf(tiny_ggufs["llama"], tmp_path)
    with pytest.raises(ModelImportError, match=f"already imported as {first}"):
        import_gguf(tiny_ggufs["llama"], tmp_path, name="again")
    other = write_tiny_gguf(tmp_path.parent / f"{tmp_path.name}-x.gguf", "llama", seed=7)
    with pytest.raises(ModelImportError, match=r"'tiny-llama' already exists .*\(--name\)"):
        import_gguf(other, tmp_path, name="tiny-llama")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny-llama"]


@pytest.mark.parametrize("stage", ["Checking", "De-quantizing", "Saving"])
def test_a_cancelled_import_leaves_nothing(tmp_path, tiny_ggufs, stage):
    seen = []

    def progress(name, _done, _total):
        seen.append(name)

    with pytest.raises(ImportCancelled):
        import_gguf(tiny_ggufs["qwen2"], tmp_path / "models", progress=progress,
                    cancel=lambda: any(s.startswith(stage) for s in seen))
    left = list((tmp_path / "models").iterdir()) if (tmp_path / "models").exists() else []
    assert left == []
