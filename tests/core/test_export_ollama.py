"""The Ollama TEMPLATE renders conversations exactly as the model's chat template does."""

from __future__ import annotations

import pytest

from llamahome_gui.core.export.errors import UnsupportedModelError
from llamahome_gui.core.export.ollama import modelfile, stop_tokens, template_pieces

CONVERSATIONS = [
    [{"role": "user", "content": "Hi"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
     {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Who are you?"}],
    [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
     {"role": "user", "content": "c\nd"}],
]
# A Llama 3-style template: header tokens around each role, BOS once at the start.
LLAMA3_STYLE = (
    "{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + "
    "'<|end_header_id|>\n\n' + m['content'] + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}")


@pytest.fixture
def starter_tokenizer(starter_model_dir):
    from llamahome_gui.core.models.loading import load_tokenizer

    return load_tokenizer(starter_model_dir)


@pytest.mark.parametrize("template", [None, LLAMA3_STYLE])
def test_template_pieces_render_like_the_chat_template(starter_tokenizer, template):
    if template is not None:
        starter_tokenizer.chat_template = template
    pieces = template_pieces(starter_tokenizer)
    for messages in CONVERSATIONS:
        want = starter_tokenizer.apply_chat_template(messages, tokenize=False,
                                                     add_generation_prompt=True)
        assert pieces.render(messages) == want


def test_starter_modelfile(starter_tokenizer):
    text = modelfile(starter_tokenizer, "smol.f16.gguf", system_prompt="You are helpful.",
                     temperature=0.7, top_p=0.9)
    lines = text.splitlines()
    assert lines[0] == "FROM ./smol.f16.gguf"
    assert 'SYSTEM """You are helpful."""' in lines
    assert 'PARAMETER stop "<|im_end|>"' in lines
    assert "PARAMETER temperature 0.7" in lines and "PARAMETER top_p 0.9" in lines
    # without a system message the template adds SmolLM2's own default, as the chat template does
    assert "named SmolLM, trained by Hugging Face" in text
    assert stop_tokens(starter_tokenizer, template_pieces(starter_tokenizer))[0] == "<|im_end|>"


def test_a_template_that_changes_per_message_is_refused(starter_tokenizer):
    starter_tokenizer.chat_template = (
        "{% for m in messages %}{{ loop.index }}:{{ m['content'] }}\n{% endfor %}")
    with pytest.raises(UnsupportedModelError, match="Ollama"):
        template_pieces(starter_tokenizer)
