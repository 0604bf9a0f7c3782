"""``llamahome chat`` as a user runs it: a real subprocess, real models, real adapters."""

from __future__ import annotations

import subprocess
import sys

from tests.core import test_chat_helpers as helpers

lora_adapter_dir = helpers.lora_adapter_dir  # fixture


def llamahome(*args: str, stdin: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llamahome_gui", "chat", *args], input=stdin,
                          capture_output=True, text=True, timeout=timeout)


def test_prompt_with_starter_model_answers_paris(starter_model_dir, config_dir):
    done = llamahome("--model", str(starter_model_dir), "--prompt", "What is the capital of France?",
                     "--temperature", "0", "--max-new-tokens", "24", "--config-dir", str(config_dir))
    assert done.returncode == 0, done.stderr
    assert "Paris" in done.stdout
    assert "tokens/s" in done.stderr and "tokens/s" not in done.stdout  # figures stay off stdout


def test_adapter_flag_changes_the_answer(tiny_model_dir, lora_adapter_dir, config_dir):
    common = ["--model", str(tiny_model_dir), "--prompt", "Tell me about the sea.", "--temperature",
              "0", "--max-new-tokens", "12", "--config-dir", str(config_dir)]
    base = llamahome(*common)
    tuned = llamahome(*common, "--adapter", str(lora_adapter_dir))
    assert base.returncode == 0 and tuned.returncode == 0, base.stderr + tuned.stderr
    assert "adapter" in tuned.stderr
    assert "12 tokens" in base.stderr and "12 tokens" in tuned.stderr
    assert tuned.stdout != base.stdout


def test_interactive_session_reset_and_exit(tiny_model_dir, config_dir):
    done = llamahome("--model", str(tiny_model_dir), "--max-new-tokens", "8", "--temperature", "0",
                     "--config-dir", str(config_dir), stdin="Hello there\n/reset\nHi again\n/exit\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("assistant> ") == 2
    assert "New conversation." in done.stderr and "/exit" in done.stderr


def test_bad_values_say_which_flag_and_why(tiny_model_dir, config_dir, tmp_path):
    bad_temp = llamahome("--temperature", "9", "--prompt", "hi", "--config-dir", str(config_dir))
    assert bad_temp.returncode == 2 and "--temperature" in bad_temp.stderr
    no_adapter = llamahome("--model", str(tiny_model_dir), "--adapter", str(tmp_path), "--prompt",
                           "hi", "--config-dir", str(config_dir))
    assert no_adapter.returncode == 2 and "adapter_config.json" in no_adapter.stderr
