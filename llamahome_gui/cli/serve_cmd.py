"""``llamahome serve``: the OpenAI-compatible endpoint for the model and its adapters.

The request log (one line per request) and progress go to stderr; stdout stays empty.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

USER_ERROR = 2


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the model and adapters over an OpenAI-compatible API",
                       description="Serve the model (and each adapter, as its own model id) at "
                       "http://HOST:PORT/v1 with OpenAI's API: /v1/models, /v1/chat/completions, "
                       "/v1/completions. Defaults come from the model, inference.generation and "
                       "inference.serving configs. Ctrl-C stops it.")
    p.add_argument("--model", default=None, metavar="DIR",
                   help="model folder (default: model.model.path; empty = the bundled starter model)")
    p.add_argument("--adapter", action="append", default=None, metavar="NAME=DIR",
                   help="serve this PEFT adapter as model id NAME (repeatable); DIR may be a run "
                   "folder, and without NAME= the run's name is the id (default: "
                   "inference.chat.adapter_path, if set)")
    p.add_argument("--host", default=None, help="address to listen on (default: "
                   "inference.serving.host, 127.0.0.1); any other than loopback needs an API key")
    p.add_argument("--port", type=int, default=None, help="port (default: inference.serving.port)")
    p.add_argument("--config-dir", default=None, metavar="DIR",
                   help="config folder (default: ./config or the user's config folder)")
    p.set_defaults(func=run_serve)


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _log_line(text: str) -> None:
    _err(f"[{time.strftime('%H:%M:%S')}] {text}")


def plan(args: argparse.Namespace) -> tuple[Any, Any, dict[str, Any]]:
    """(chat setup, serve options, adapters by model id) from the configs and flags; raises
    ValueError with a one-line message for anything the user must fix."""
    from llamahome_gui.config.manager import ConfigManager
    from llamahome_gui.core.chat.setup import ChatSetup
    from llamahome_gui.core.serve.backend import ServeOptions, adapter_spec

    manager = ConfigManager(args.config_dir)
    setup = ChatSetup.from_manager(manager).with_overrides(model_path=args.model)
    if args.port is not None and not 1 <= args.port <= 65535:
        raise ValueError(f"--port {args.port}: give a port from 1 to 65535")
    options = ServeOptions.from_section(manager.load("inference").serving, host=args.host,
                                        port=args.port)
    options.check()
    specs = args.adapter if args.adapter is not None else (
        [setup.adapter_path] if setup.adapter_path.strip() else [])
    adapters: dict[str, Any] = {}
    for spec in specs:
        name, folder = adapter_spec(spec)
        if name in adapters:
            raise ValueError(f"--adapter {spec}: the model id {name!r} is given twice; name one "
                             f"otherwise (--adapter OTHER={folder})")
        adapters[name] = folder
    return setup, options, adapters


def run_serve(args: argparse.Namespace) -> int:
    from llamahome_gui.core.serve.backend import ServeBackend, ServeError
    from llamahome_gui.core.serve.server import bind, make_server, ready_line

    try:
        setup, options, adapters = plan(args)
        sock = bind(options)
    except (ValueError, OSError) as exc:
        _err(f"llamahome serve: error: {exc}")
        return USER_ERROR
    try:
        try:
            backend = ServeBackend(setup, adapters, progress=_err,
                                   slots=options.max_concurrent_requests)
        except ServeError as exc:
            _err(f"llamahome serve: error: {exc}")
            return USER_ERROR
        try:
            server = make_server(backend, options, log=_log_line)
            _err(f"Answers computed by {backend.decode}, up to "
                 f"{options.max_concurrent_requests} at once.")
            _err(ready_line(options, backend.model_ids()))
            _err("One line per request below; Ctrl-C stops the server.")
            try:
                server.run(sockets=[sock])
            except KeyboardInterrupt:  # uvicorn hands Ctrl-C on once it has shut down
                pass
        finally:
            backend.close()
    finally:
        sock.close()
    _err("Server stopped.")
    return 0
