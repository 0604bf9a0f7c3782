"""The OpenAI-compatible server, for real: uvicorn on a free port, the tiny model with a real
PEFT adapter, hit by the official ``openai`` client (and raw HTTP for malformed bodies)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from llamahome_gui.core.chat import GenerationSettings
from llamahome_gui.core.chat.setup import ChatSetup
from llamahome_gui.core.serve.backend import ServeBackend, ServeError, ServeOptions
from llamahome_gui.core.serve.requestlog import parse_line
from llamahome_gui.core.serve.server import ServerThread
from tests.core import test_chat_helpers as helpers

lora_adapter_dir = helpers.lora_adapter_dir  # fixture
QUESTION = [{"role": "user", "content": "Tell me about the sea."}]
WAIT_S = 120  # a loaded machine is slow; never a reason to fail


def wait_until(condition, timeout: float = WAIT_S) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "condition not reached"
        threading.Event().wait(0.02)


@pytest.fixture(scope="module")
def backend(tiny_model_dir, lora_adapter_dir):
    setup = ChatSetup(model_path=str(tiny_model_dir), device="cpu", settings=GenerationSettings(
        temperature=0.0, max_new_tokens=16, repetition_penalty=1.0))
    backend = ServeBackend(setup, {"nova": lora_adapter_dir})
    yield backend
    backend.close()


def start(backend, **options) -> tuple[ServerThread, list[str]]:
    lines: list[str] = []
    server = ServerThread(backend, ServeOptions(port=0, **options), log=lines.append).start()
    return server, lines


@pytest.fixture(scope="module")
def served(backend):
    server, lines = start(backend, max_concurrent_requests=8, max_queue=8)
    yield server, lines
    server.stop()


@pytest.fixture
def client(served) -> openai.OpenAI:
    return openai.OpenAI(base_url=served[0].base_url, api_key="unused", max_retries=0,
                         timeout=WAIT_S)


def ask(client, model: str, stream: bool = False, **kw):
    return client.chat.completions.create(model=model, messages=QUESTION, temperature=0,
                                          stream=stream, **kw)


def test_models_lists_the_base_and_each_adapter(client, backend):
    assert [m.id for m in client.models.list()] == ["tiny-llama", "nova"]
    assert client.models.retrieve("nova").id == "nova"


def test_streamed_and_whole_answers_agree_and_count_tokens(client, served):
    whole = ask(client, "tiny-llama", max_tokens=12)
    assert whole.choices[0].finish_reason == "length"
    assert whole.usage.completion_tokens == 12 and whole.usage.prompt_tokens > 5
    assert whole.usage.total_tokens == whole.usage.prompt_tokens + 12
    chunks = list(ask(client, "tiny-llama", stream=True, max_tokens=12,
                      stream_options={"include_usage": True}))
    pieces = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    assert len([p for p in pieces if p]) > 1  # it streamed, piece by piece
    assert "".join(pieces) == whole.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].usage.completion_tokens == 12
    wait_until(lambda: any(line.endswith(" stream") for line in served[1]))  # logged at the end
    last = parse_line([line for line in served[1] if line.endswith(" stream")][-1])
    assert last.status == 200 and last.completion_tokens == 12
    assert last.time_to_first_token > 0


def test_the_sse_stream_ends_with_done(served):
    body = {"model": "nova", "messages": QUESTION, "max_tokens": 4, "stream": True}
    with httpx.stream("POST", f"{served[0].base_url}/chat/completions", json=body,
                      timeout=WAIT_S) as response:
        lines = [line for line in response.iter_lines() if line]
    assert response.headers["content-type"].startswith("text/event-stream")
    assert lines[-1] == "data: [DONE]" and all(line.startswith("data: ") for line in lines)


def test_the_adapter_id_changes_the_answer(client):
    base = ask(client, "tiny-llama", max_tokens=12).choices[0].message.content
    tuned = ask(client, "nova", max_tokens=12).choices[0].message.content
    assert tuned != base
    assert ask(client, "tiny-llama", max_tokens=12).choices[0].message.content == base


def test_plain_completions_and_stop_strings(client):
    def complete(**kw):
        return client.completions.create(model="nova", prompt="Once upon", max_tokens=10,
                                         temperature=0, **kw)

    whole = complete()
    full = whole.choices[0].text
    assert whole.usage.prompt_tokens > 1 and whole.usage.completion_tokens == 10
    cut = full[len(full) // 2:][:3]
    assert cut.strip() and full.index(cut) > 0, full
    stopped = complete(stop=[cut])
    assert stopped.choices[0].text == full[:full.index(cut)]  # ends before the stop string
    assert stopped.choices[0].finish_reason == "stop"
    streamed = "".join(c.choices[0].text for c in complete(stop=cut, stream=True))
    assert streamed == full[:full.index(cut)]


def test_prompts_arriving_together_answer_as_if_each_came_alone(backend):
    """Prompts of different lengths prefilled in one padded batch decode exactly as alone."""
    from llamahome_gui.core.serve.jobs import Job, Sampling

    prompts = [backend.chat_ids([{"role": "user", "content": q}]) for q in
               ("Hi", "Tell me about the sea.", "What is the capital of France, and why?")]
    assert len({len(p) for p in prompts}) == 3

    def run(batch: list[tuple[list[int], str | None]]) -> list[str]:
        texts = [""] * len(batch)
        ends: list[threading.Event] = [threading.Event() for _ in batch]
        for i, (ids, adapter) in enumerate(batch):
            backend.submit(Job(ids, adapter, Sampling(max_new_tokens=10),
                               on_text=lambda t, i=i: texts.__setitem__(i, texts[i] + t),
                               on_finish=lambda _f, i=i: ends[i].set()))
        assert all(end.wait(WAIT_S) for end in ends)
        return texts

    nova = backend.adapter_for("nova")
    batch = [(p, a) for p in prompts for a in (None, nova)]
    alone = [run([item])[0] for item in batch]
    assert run(batch) == alone and len(set(alone)) > 1


def test_eight_streaming_clients_all_finish_interleaved(client):
    def one(i: int) -> tuple[str, float, float]:
        first = None
        text = ""
        for chunk in ask(client, "nova" if i % 2 else "tiny-llama", stream=True, max_tokens=24):
            if chunk.choices and chunk.choices[0].delta.content:
                first = first or time.perf_counter()
                text += chunk.choices[0].delta.content
            finish = chunk.choices[0].finish_reason if chunk.choices else None
        assert finish == "length"
        return text, first, time.perf_counter()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(8)))
    assert len(results) == 8 and all(text for text, _, _ in results)
    assert len({text for text, _, _ in results}) == 2  # each model id answers the same way
    # Interleaved, not one after another: some stream got its first token before another ended.
    assert min(end for _, _, end in results) > min(first for _, first, _ in results)
    assert sorted(first for _, first, _ in results)[1] < min(end for _, _, end in results)


def test_a_client_that_disconnects_frees_its_slot_and_stops_generating(backend):
    server, lines = start(backend, max_concurrent_requests=1, max_queue=0)
    try:
        body = {"model": "tiny-llama", "messages": QUESTION, "max_tokens": 900, "stream": True}
        with httpx.stream("POST", f"{server.base_url}/chat/completions", json=body,
                          timeout=WAIT_S) as response:
            for line in response.iter_lines():
                if '"content": "' in line and '"content": ""' not in line:
                    break  # the first token arrived: go away mid-answer
        wait_until(lambda: any("stream cancelled" in line for line in lines))
        record = parse_line([line for line in lines if "stream cancelled" in line][-1])
        assert record.completion_tokens < 100  # generation stopped, not run to 900
        health = httpx.get(server.base_url.removesuffix("/v1") + "/health").json()
        assert health["running"] == 0
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        assert ask(client, "tiny-llama", max_tokens=4).usage.completion_tokens == 4
    finally:
        server.stop()


def test_errors_have_openai_shape_and_status(client, served):
    url = f"{served[0].base_url}/chat/completions"
    cases = [
        (httpx.post(url, content=b"{not json", headers={"content-type": "application/json"}),
         400, "invalid_json", None),
        (httpx.post(url, json={"model": "nova", "messages": QUESTION, "temperature": "hot"}),
         400, "invalid_value", "temperature"),
        (httpx.post(url, json={"model": "nova"}), 400, "missing", "messages"),
        (httpx.post(url, json={"model": "gpt-9", "messages": QUESTION}), 404, "model_not_found",
         "model"),
    ]
    for response, status, code, param in cases:
        error = response.json()["error"]
        assert response.status_code == status, response.text
        assert set(error) == {"message", "type", "param", "code"} and error["message"]
        assert error["code"] == code and error["param"] == param
    with pytest.raises(openai.BadRequestError) as too_long:
        client.chat.completions.create(model="nova", messages=[
            {"role": "user", "content": "sea " * 1100}], max_tokens=10)
    assert too_long.value.status_code == 400
    message = too_long.value.body["message"]
    assert "maximum context length is 1024 tokens" in message and "10 in the completion" in message
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-9")


def test_a_full_queue_answers_429(backend):
    server, _lines = start(backend, max_concurrent_requests=1, max_queue=1)
    health = server.base_url.removesuffix("/v1") + "/health"
    client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=WAIT_S)
    try:
        running = ask(client, "tiny-llama", stream=True, max_tokens=900)
        next(iter(running))  # holds the one slot
        queued = threading.Thread(target=lambda: list(ask(client, "nova", stream=True,
                                                          max_tokens=2)))
        queued.start()
        wait_until(lambda: httpx.get(health).json()["waiting"] == 1)
        with pytest.raises(openai.RateLimitError) as refused:
            ask(client, "nova", max_tokens=2)
        assert refused.value.status_code == 429
        assert refused.value.body["code"] == "rate_limit_exceeded"
        running.close()  # the waiting request gets the slot and finishes
        queued.join(WAIT_S)
        assert not queued.is_alive()
    finally:
        server.stop()


def test_api_key_is_required_when_set(backend):
    server, _lines = start(backend, api_key="s3cret-key")
    try:
        for key in ("wrong", ""):
            bad = openai.OpenAI(base_url=server.base_url, api_key=key or "x", max_retries=0,
                                default_headers={} if key else {"Authorization": ""})
            with pytest.raises(openai.AuthenticationError) as denied:
                bad.models.list()
            assert denied.value.status_code == 401
            assert denied.value.body["code"] == "invalid_api_key"
        good = openai.OpenAI(base_url=server.base_url, api_key="s3cret-key", max_retries=0)
        assert [m.id for m in good.models.list()] == ["tiny-llama", "nova"]
    finally:
        server.stop()


def test_binding_beyond_this_computer_needs_a_key_and_stopping_frees_the_port(backend):
    with pytest.raises(ServeError, match="LLAMAHOME_SERVING_API_KEY"):
        ServeOptions(host="0.0.0.0").check()
    ServeOptions(host="0.0.0.0", api_key="k").check()
    ServeOptions(host="::1").check()
    server, _lines = start(backend)
    port = server.port
    with pytest.raises(ServeError, match="pass --port"):
        ServerThread(backend, ServeOptions(port=port))
    server.stop()
    again = ServerThread(backend, ServeOptions(port=port)).start()  # the port is free again
    again.stop()


def test_a_request_without_system_message_gets_the_configured_one(backend, monkeypatch):
    monkeypatch.setattr(backend, "system_prompt", "Answer like a pirate.")
    plain = backend.tokenizer.decode(backend.chat_ids(QUESTION))
    assert "Answer like a pirate." in plain and "Tell me about the sea." in plain
    own = backend.tokenizer.decode(backend.chat_ids([{"role": "system", "content": "Be brief."},
                                                     *QUESTION]))
    assert "Be brief." in own and "pirate" not in own


@pytest.mark.skipif(__import__("importlib").util.find_spec("llama_cpp") is None,
                    reason="llama-cpp-python is not installed")
def test_the_server_answers_through_llama_cpp_as_the_chat_page_does(backend, client,
                                                                     tiny_model_dir,
                                                                     lora_adapter_dir):
    """Where llama.cpp is installed the server's loop runs on it too (one KV sequence per
    request, adapters as LoRA files): the base and the adapter answer as in chat."""
    from llamahome_gui.core.chat import ChatEngine

    assert backend.decode == "llama.cpp/f16"
    engine = ChatEngine()
    engine.load(tiny_model_dir, device="cpu")
    engine.set_adapter(lora_adapter_dir)
    settings = GenerationSettings(temperature=0.0, max_new_tokens=12, repetition_penalty=1.0)
    for model_id, use_adapter in (("tiny-llama", False), ("nova", True)):
        served = ask(client, model_id, max_tokens=12).choices[0].message.content
        chat, _ = engine.chat("", QUESTION, settings, use_adapter=use_adapter)
        assert served == chat, model_id
    engine.unload()
