"""Saved conversations, Markdown export and generation settings, without a model."""

from __future__ import annotations

import pytest

from llamahome_gui import paths
from llamahome_gui.config.schema import GenerationSection
from llamahome_gui.core.chat import (
    Conversation,
    ConversationFileError,
    GenerationSettings,
    export_markdown,
    history_dir,
    list_conversations,
    load_conversation,
    save_conversation,
)


def test_save_list_reopen_round_trip(tmp_path):
    chat = Conversation(system_prompt="Be kind.", model="tiny")
    chat.add("user", "What is a LoRA adapter, in one line?")
    chat.add("assistant", "A small low-rank update.\n\n```python\nprint('hi')\n```",
             stats={"summary": "first token 0.1 s"})
    path = save_conversation(chat, tmp_path)
    save_conversation(chat, tmp_path)  # saving again overwrites, never duplicates
    listed = list_conversations(tmp_path)
    assert [s.path for s in listed] == [path]
    assert listed[0].title == "What is a LoRA adapter, in one line?" and listed[0].turns == 2
    again = load_conversation(path)
    assert again.messages == chat.messages and again.system_prompt == "Be kind."
    assert again.turns() == [{"role": "user", "content": chat.messages[0].content},
                             {"role": "assistant", "content": chat.messages[1].content}]


def test_markdown_export_reads_as_a_transcript(tmp_path):
    chat = Conversation(model="SmolLM2", adapter="/runs/x/adapter", system_prompt="Be kind.")
    chat.add("user", "Hello")
    chat.add("assistant", "Hi!\n```\ncode\n```")
    text = export_markdown(chat, tmp_path / "out" / "chat.md").read_text()
    assert text.startswith("# Hello\n")
    assert "**Adapter:** /runs/x/adapter" in text and "**System prompt:** Be kind." in text
    assert text.index("## You\n\nHello") < text.index("## Assistant\n\nHi!\n```\ncode\n```")


def test_broken_file_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"messages": [\n  {"role": "user",, }\n]}')
    with pytest.raises(ConversationFileError, match=r"bad.json:2: not valid JSON"):
        load_conversation(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"messages": [{"text": "hi"}]}')
    with pytest.raises(ConversationFileError, match="needs 'role' and 'content'"):
        load_conversation(wrong)
    assert [s.path.name for s in list_conversations(tmp_path)] == ["wrong.json"]


def test_history_dir_defaults_to_user_data(tmp_path):
    assert history_dir("") == paths.chat_history_dir()
    assert history_dir(str(tmp_path)) == tmp_path


def test_generation_settings_follow_the_schema():
    assert GenerationSettings() == GenerationSettings.from_section(GenerationSection())
    sampling = GenerationSettings.from_section(GenerationSection(temperature=0.5, top_k=7))
    assert sampling.generate_kwargs() == {"max_new_tokens": 256, "do_sample": True,
                                          "repetition_penalty": 1.1, "temperature": 0.5,
                                          "top_p": 0.9, "top_k": 7}
    assert GenerationSettings(do_sample=False).generate_kwargs()["do_sample"] is False
    greedy = GenerationSettings().with_overrides(temperature=0, max_new_tokens=5)
    assert greedy.greedy and "temperature" not in greedy.generate_kwargs()
    with pytest.raises(ValueError, match="temperature"):
        GenerationSettings().with_overrides(temperature=5)


def test_setup_from_window_values_names_the_bad_key():
    from llamahome_gui.core.chat.setup import ChatSetup

    setup = ChatSetup.from_values({"model": {"path": "/models/x", "device": "cpu"}},
                                  {"generation": {"temperature": 0}, "chat": {"adapter_path": "/a"}})
    assert (setup.model_path, setup.device, setup.adapter_path) == ("/models/x", "cpu", "/a")
    assert setup.settings.greedy
    with pytest.raises(ValueError, match=r"inference\.generation\.temperature"):
        ChatSetup.from_values({}, {"generation": {"temperature": 9}})


def test_adapter_of_a_run_brings_its_model_and_is_listed(tmp_path):
    from llamahome_gui.config.schema import ModelConfig, ModelSection
    from llamahome_gui.core.chat.setup import find_adapters, run_model_path
    from llamahome_gui.core.runs import write_run_config

    run = tmp_path / "20260101-120000-identity"
    write_run_config(run, {"model": ModelConfig(model=ModelSection(path="/models/base"))})
    (run / "adapter").mkdir()
    (run / "adapter" / "adapter_config.json").write_text("{}")
    assert run_model_path(run / "adapter") == "/models/base"
    assert run_model_path(tmp_path / "loose" / "adapter") is None
    found = find_adapters(tmp_path)
    assert [c.path for c in found] == [run / "adapter"] and "identity" in found[0].label


def test_an_ab_session_saves_as_one_conversation_and_opens_as_ab(tmp_path):
    from llamahome_gui.core.chat.conversation import load_conversation, save_conversation
    from llamahome_gui.core.chat.session import ChatSession

    session = ChatSession()
    session.set_ab_mode(True)
    session.add_question("Hi?")
    sides = session.conversations()
    sides["A"].add("assistant", "base says hi")
    sides["B"].add("assistant", "adapter says hi", {"adapter": "/r/adapter"})
    sides["B"].adapter = "/r/adapter"
    path = save_conversation(session.saved_form(), tmp_path)
    again = ChatSession()
    again.open(load_conversation(path))
    assert again.ab_mode
    back = again.conversations()
    assert [m.content for m in back["A"].messages] == ["Hi?", "base says hi"]
    assert [m.content for m in back["B"].messages] == ["Hi?", "adapter says hi"]
    assert back["B"].adapter == "/r/adapter" and back["A"].adapter == ""
    assert save_conversation(again.saved_form(), tmp_path) == path   # same file, not a copy
    plain = ChatSession()
    plain.add_question("plain")
    plain_path = save_conversation(plain.saved_form(), tmp_path)
    again.open(load_conversation(plain_path))
    assert not again.ab_mode
