"""The OpenAI-compatible HTTP app (FastAPI): /v1/models, /v1/chat/completions,
/v1/completions, /health.

Requests beyond ``max_concurrent_requests`` wait in a queue of ``max_queue``; past that they
get 429. A streamed answer ends with ``data: [DONE]``; a client that goes away has its
generation cancelled before the next token, and its slot freed. Every request logs one line
(core/serve/requestlog.py).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from llamahome_gui.core.serve import wire
from llamahome_gui.core.serve.backend import ServeBackend, ServeOptions
from llamahome_gui.core.serve.jobs import Finish, Job, Sampling
from llamahome_gui.core.serve.requestlog import RequestRecord

LOG = logging.getLogger("llamahome.serve")
POLL_S = 0.25  # how often a waiting non-streamed request checks that its client is still there


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.param, self.code = status, message, kind, \
            param, code

    def response(self) -> JSONResponse:
        return JSONResponse(wire.error_body(self.message, self.kind, self.param, self.code),
                            status_code=self.status)


class Admission:
    """``slots`` requests run at once, ``queue`` more wait in order; the next is refused.
    Leaving is synchronous, so it also happens inside a cancelled task (client gone)."""

    def __init__(self, slots: int, queue: int) -> None:
        self.slots, self.queue = slots, queue
        self.running = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def enter(self, timeout: float) -> None:
        if self.running < self.slots and not self._waiters:
            self.running += 1
            return
        if len(self._waiters) >= self.queue:
            raise ApiError(429, f"The server is busy: {self.running} requests running and "
                           f"{self.waiting} waiting (inference.serving.max_queue). Retry "
                           "shortly.", "rate_limit_error", code="rate_limit_exceeded")
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(turn)
        try:
            await asyncio.wait_for(asyncio.shield(turn), timeout)
        except BaseException as exc:
            if turn.done():  # the slot came just as we gave up: pass it on
                self.leave()
            else:
                turn.cancel()
                self._waiters.remove(turn)
            if isinstance(exc, TimeoutError):
                raise ApiError(504, "Timed out waiting for a free slot "
                               "(inference.serving.request_timeout).", "timeout_error",
                               code="timeout") from None
            raise

    def leave(self) -> None:
        """Hand the slot to the oldest waiter, or free it."""
        while self._waiters:
            turn = self._waiters.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self.running -= 1


def create_app(backend: ServeBackend, options: ServeOptions,
               log: Callable[[str], None] | None = None) -> FastAPI:
    app = FastAPI(title="LlamaHome", docs_url=None, redoc_url=None, openapi_url=None)
    admission = Admission(options.max_concurrent_requests, options.max_queue)
    write_log = log or LOG.info
    app.state.admission = admission
    if options.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(options.cors_origins),
                           allow_methods=["GET", "POST", "OPTIONS"], allow_headers=["*"])

    def record(request: Request, status: int, started: float, model: str = "", **kw: Any) -> None:
        write_log(RequestRecord(request.method, request.url.path, status, model,
                                seconds=time.perf_counter() - started, **kw).line())

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        record(request, exc.status, getattr(request.state, "started", time.perf_counter()),
               getattr(request.state, "model", ""), note=exc.message[:80])
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = "not_found" if exc.status_code == 404 else None
        error = ApiError(exc.status_code, f"{request.method} {request.url.path}: {exc.detail}",
                         code=code)
        return await _api_error(request, error)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return await _api_error(request, _validation_error(exc.errors()))

    def check_key(request: Request) -> None:
        request.state.started = time.perf_counter()
        if not options.api_key:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        given = token.strip() if scheme.lower() == "bearer" else ""
        if not hmac.compare_digest(given.encode(), options.api_key.encode()):
            what = "Incorrect API key provided" if given else "You didn't provide an API key"
            raise ApiError(401, f"{what}. Send it as 'Authorization: Bearer KEY' (the key is "
                           "inference.serving.api_key on the server).", code="invalid_api_key")

    @app.get("/health")
    async def health(request: Request) -> dict[str, Any]:
        request.state.started = time.perf_counter()
        record(request, 200, request.state.started)
        models = {} if options.api_key else {"models": backend.model_ids()}  # ids need the key
        return {"status": "ok", **models, "running": admission.running,
                "waiting": admission.waiting}

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        check_key(request)
        record(request, 200, request.state.started)
        return wire.model_list(backend.model_ids(), backend.created)

    @app.get("/v1/models/{model_id}")
    async def model(request: Request, model_id: str) -> dict[str, Any]:
        check_key(request)
        _known(backend, model_id)
        record(request, 200, request.state.started, model_id)
        return wire.model_list([model_id], backend.created)["data"][0]

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        check_key(request)
        body = await _parse(request, wire.ChatCompletionRequest)
        request.state.model = body.model
        _known(backend, body.model)
        messages = [{"role": "system" if m.role == "developer" else m.role, "content": m.text()}
                    for m in body.messages]
        ids = backend.chat_ids(messages)
        return await generate(request, body, ids, chat=True)

    @app.post("/v1/completions")
    async def completions(request: Request) -> Any:
        check_key(request)
        body = await _parse(request, wire.CompletionRequest)
        request.state.model = body.model
        _known(backend, body.model)
        try:
            ids = backend.prompt_ids(body.prompt_text())
        except ValueError as exc:
            raise ApiError(400, str(exc), param="prompt") from None
        return await generate(request, body, ids, chat=False)

    async def generate(request: Request, body: Any, ids: list[int], *, chat: bool) -> Any:
        started = request.state.started
        try:
            sampling = backend.sampling(len(ids), max_tokens=body.token_limit(),
                                        temperature=body.temperature, top_p=body.top_p,
                                        seed=body.seed, stop=body.stop_list())
        except ValueError as exc:
            raise ApiError(400, str(exc), param="messages" if chat else "prompt",
                           code="context_length_exceeded") from None
        await admission.enter(max(0.001, options.request_timeout))
        run = _Run(backend, body.model, ids, sampling, started + options.request_timeout)
        done = False

        async def finish(status: int, note: str) -> None:
            """No await inside: it runs to its end even in a task being cancelled."""
            nonlocal done
            if done:
                return
            done = True
            run.job.cancel()  # a no-op when it ended; else it ends before its next token
            admission.leave()
            f = run.finish
            record(request, status, started, body.model, prompt_tokens=len(ids),
                   completion_tokens=f.completion_tokens if f else 0,
                   time_to_first_token=f.time_to_first_token if f else 0.0,
                   tokens_per_second=f.tokens_per_second if f else 0.0, note=note)

        if body.stream:
            rid = wire.new_id("chatcmpl" if chat else "cmpl")
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            events = _sse(run, rid, body.model, chat, include_usage, finish)
            return StreamingResponse(events, media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache"},
                                     background=BackgroundTask(finish, 200, "stream cancelled"))
        try:
            text = await run.collect(request)
        except ApiError as exc:
            await finish(exc.status, exc.message[:80])
            return exc.response()
        if run.finish is None:  # the client went away
            await finish(499, "client disconnected")
            return JSONResponse(wire.error_body("client disconnected"), status_code=499)
        await finish(200, "")
        usage = wire.Usage.of(len(ids), run.finish.completion_tokens)
        rid = wire.new_id("chatcmpl" if chat else "cmpl")
        reason = run.finish.reason
        if chat:
            return wire.chat_response(rid, body.model, text, reason, usage)
        return wire.completion_response(rid, body.model, text, reason, usage)

    return app


class _Run:
    """One request's job in the generation loop, its events carried into the event loop."""

    def __init__(self, backend: ServeBackend, model_id: str, ids: list[int], sampling: Sampling,
                 deadline: float) -> None:
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.deadline = deadline
        self.finish: Finish | None = None
        loop = asyncio.get_running_loop()

        def put(item: tuple[str, Any]) -> None:
            try:
                loop.call_soon_threadsafe(self.events.put_nowait, item)
            except RuntimeError:  # the server is shutting down
                self.job.cancel()

        self.job = backend.submit(Job(ids, backend.adapter_for(model_id), sampling,
                                      on_text=lambda t: put(("text", t)),
                                      on_finish=lambda f: put(("end", f))))

    async def next(self, timeout: float | None = None) -> tuple[str, Any]:
        """The next event; ApiError 504 past the deadline."""
        remaining = self.deadline - time.perf_counter()
        if remaining <= 0:
            raise ApiError(504, "The answer took longer than inference.serving.request_timeout.",
                           "timeout_error", code="timeout")
        return await asyncio.wait_for(self.events.get(), min(remaining, timeout or remaining))

    async def collect(self, request: Request) -> str:
        """The whole answer; stops early (finish stays None) when the client disconnects."""
        parts: list[str] = []
        while True:
            try:
                kind, value = await self.next(POLL_S)
            except TimeoutError:
                if time.perf_counter() >= self.deadline:
                    raise ApiError(504, "The answer took longer than "
                                   "inference.serving.request_timeout.", "timeout_error",
                                   code="timeout") from None
                if await request.is_disconnected():
                    return "".join(parts)
                continue
            if kind == "text":
                parts.append(value)
                continue
            self.finish = value
            if value.reason == "error":
                raise ApiError(500, f"generation failed: {value.error}", "server_error")
            return "".join(parts)


async def _sse(run: _Run, rid: str, model: str, chat: bool, include_usage: bool,
               finish: Callable[[int, str], Any]) -> AsyncIterator[str]:
    def event(data: dict[str, Any]) -> str:
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    status, note = 200, "stream cancelled"
    try:
        if chat:
            yield event(wire.chat_chunk(rid, model, {"role": "assistant", "content": ""}))
        while True:
            try:
                kind, value = await run.next()
            except (ApiError, TimeoutError) as exc:
                err = exc if isinstance(exc, ApiError) else ApiError(504, "timed out",
                                                                     "timeout_error")
                status, note = err.status, err.message[:80]
                yield event(wire.error_body(err.message, err.kind, code=err.code))
                break
            if kind == "text":
                yield event(wire.chat_chunk(rid, model, {"content": value}) if chat
                            else wire.completion_response(rid, model, value, None))
                continue
            run.finish = value
            if value.reason == "error":
                status, note = 500, value.error[:80]
                yield event(wire.error_body(f"generation failed: {value.error}", "server_error"))
                break
            usage = wire.Usage.of(value.prompt_tokens, value.completion_tokens)
            yield event(wire.chat_chunk(rid, model, {}, value.reason) if chat
                        else wire.completion_response(rid, model, "", value.reason))
            if include_usage:
                yield event(wire.chat_chunk(rid, model, {}, usage=usage, choices=False))
            status, note = 200, "stream"
            break
        yield "data: [DONE]\n\n"
    finally:
        await finish(status, note)


async def _parse(request: Request, model: type[Any]) -> Any:
    raw = await request.body()
    try:
        data = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"We could not parse the JSON body of your request ({exc}). Send "
                       "valid JSON with Content-Type: application/json.",
                       code="invalid_json") from None
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.", code="invalid_json")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc.errors()) from None


def _validation_error(errors: list[Any]) -> ApiError:
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(loc) or None
    return ApiError(400, f"{param or 'body'}: {first.get('msg')}", param=param,
                    code="invalid_value" if first.get("type") != "missing" else "missing")


def _known(backend: ServeBackend, model_id: str) -> None:
    if not backend.knows(model_id):
        raise ApiError(404, f"The model '{model_id}' does not exist. Available: "
                       f"{', '.join(backend.model_ids())}.", param="model",
                       code="model_not_found")
