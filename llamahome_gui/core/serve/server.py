"""Run the app with uvicorn on a socket we bind ourselves (a busy port is a clear error, and
closing the socket frees the port), in the calling thread (CLI) or a background one (tests,
bench)."""

from __future__ import annotations

import socket
import threading
from typing import Any

from llamahome_gui.core.serve.backend import ServeBackend, ServeError, ServeOptions

READY = "Serving"  # the line a parent process waits for: "Serving <base url> models: a, b"


def ready_line(options: ServeOptions, model_ids: list[str]) -> str:
    return f"{READY} {options.base_url} models: {', '.join(model_ids)}"


def parse_ready(line: str) -> tuple[str, list[str]] | None:
    """(base url, model ids) from :func:`ready_line`'s text, else None."""
    start = line.find(f"{READY} http")
    if start < 0 or " models: " not in line:
        return None
    url, _, ids = line[start + len(READY) + 1:].partition(" models: ")
    return url.strip(), [i for i in ids.strip().split(", ") if i]


def bind(options: ServeOptions) -> socket.socket:
    """The listening socket; ServeError when the address cannot be had."""
    options.check()
    family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((options.host, options.port))
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {options.host}:{options.port} ({exc.strerror}); "
                         "another program may use that port: pass --port or set "
                         "inference.serving.port") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def make_server(backend: ServeBackend, options: ServeOptions, log: Any = None) -> Any:
    import uvicorn

    from llamahome_gui.core.serve.app import create_app

    config = uvicorn.Config(create_app(backend, options, log), log_level="warning",
                            access_log=False, lifespan="off", timeout_graceful_shutdown=3,
                            timeout_keep_alive=5)
    return uvicorn.Server(config)


class ServerThread:
    """The server in a background thread: ``start()`` returns once it accepts connections,
    ``stop()`` ends it and frees the port."""

    def __init__(self, backend: ServeBackend, options: ServeOptions, log: Any = None) -> None:
        self.backend, self.options = backend, options
        self.sock = bind(options)
        self.port = self.sock.getsockname()[1]
        self.server = make_server(backend, options, log)
        self._thread = threading.Thread(target=self._run, name="llamahome-serve", daemon=True)
        self.error: BaseException | None = None

    @property
    def base_url(self) -> str:
        from dataclasses import replace

        return replace(self.options, port=self.port).base_url

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except BaseException as exc:  # noqa: BLE001 - reported by start()
            self.error = exc

    def start(self, timeout: float = 60) -> ServerThread:
        import time

        self._thread.start()
        end = time.monotonic() + timeout
        while not self.server.started and self._thread.is_alive() and time.monotonic() < end:
            self._thread.join(0.05)
        if not self.server.started:
            raise ServeError(f"the server did not start: {self.error!r}")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=30)
        self.sock.close()
