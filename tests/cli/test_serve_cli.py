"""``llamahome serve`` as a user runs it: a real process on a free port, a run folder's adapter
under the run's name, the openai client, Ctrl-C, and the refusals."""

from __future__ import annotations

import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading

import openai

from llamahome_gui.core.serve.requestlog import parse_line
from llamahome_gui.core.serve.server import parse_ready
from tests.core import test_chat_helpers as helpers

lora_adapter_dir = helpers.lora_adapter_dir  # fixture
WAIT_S = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llamahome_gui", "serve", *args],
                          capture_output=True, text=True, timeout=WAIT_S)


def test_refuses_the_network_without_a_key_and_bad_adapters(config_dir, tmp_path):
    exposed = serve("--host", "0.0.0.0", "--config-dir", str(config_dir))
    assert exposed.returncode == 2
    assert "LLAMAHOME_SERVING_API_KEY" in exposed.stderr and "127.0.0.1" in exposed.stderr
    assert len(exposed.stderr.strip().splitlines()) == 1
    bad = serve("--adapter", f"nova={tmp_path}", "--config-dir", str(config_dir))
    assert bad.returncode == 2 and "adapter_config.json" in bad.stderr


def test_serves_a_run_folder_adapter_under_the_run_name(tiny_model_dir, lora_adapter_dir,
                                                         config_dir, tmp_path):
    run = tmp_path / "runs" / "20260101-120000-nova"
    shutil.copytree(lora_adapter_dir, run / "adapter")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "llamahome_gui", "serve", "--model", str(tiny_model_dir),
         "--adapter", str(run), "--port", str(port), "--config-dir", str(config_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stderr],
                     daemon=True).start()
    try:
        ready = None
        while ready is None:
            ready = parse_ready(lines.get(timeout=WAIT_S))
        url, ids = ready
        assert url == f"http://127.0.0.1:{port}/v1" and ids == ["tiny-llama", run.name]
        client = openai.OpenAI(base_url=url, api_key="none", max_retries=0, timeout=WAIT_S)
        assert [m.id for m in client.models.list()] == ids
        answer = client.chat.completions.create(model=run.name, max_tokens=5, temperature=0,
                                                messages=[{"role": "user", "content": "Hi"}])
        assert answer.usage.completion_tokens == 5
        record = None
        while record is None or record.path != "/v1/chat/completions":
            record = parse_line(lines.get(timeout=WAIT_S))
        assert record.status == 200 and record.model == run.name and record.completion_tokens == 5
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C
        process.wait(WAIT_S)
    assert process.returncode == 0 and process.stdout.read() == ""
    with socket.socket() as sock:  # the port is free again for a server (as ours binds it)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
