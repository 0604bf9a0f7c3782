"""``llamahome chat``: one answer with ``--prompt``, else an interactive session.

The answer streams to stdout; progress, notices and speed figures go to stderr, so
``llamahome chat --prompt … > answer.txt`` keeps only the answer.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

USER_ERROR = 2
HELP = ("Commands: /exit (or Ctrl-D) leaves, /reset starts a new conversation, /help shows this. "
        "Ctrl-C stops an answer.")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chat", help="chat with the model (or an adapter) in the terminal",
                       description="Chat with a local model. With --prompt, print one answer and "
                       "exit; without, start an interactive session. Defaults come from the "
                       "model and inference configs.")
    p.add_argument("--model", default=None, metavar="DIR",
                   help="model folder (default: model.model.path; empty = the bundled starter model)")
    p.add_argument("--adapter", default=None, metavar="DIR",
                   help="PEFT LoRA adapter folder (default: inference.chat.adapter_path); "
                   "'none' for the base model")
    p.add_argument("--prompt", default=None, metavar="TEXT", help="ask this once and exit")
    p.add_argument("--system", default=None, metavar="TEXT",
                   help="system prompt (default: inference.chat.system_prompt)")
    p.add_argument("--temperature", type=float, default=None, metavar="T",
                   help="sampling temperature; 0 = greedy (default: inference.generation.temperature)")
    p.add_argument("--max-new-tokens", type=int, default=None, metavar="N",
                   help="longest answer in tokens (default: inference.generation.max_new_tokens)")
    p.add_argument("--config-dir", default=None, metavar="DIR",
                   help="config folder (default: ./config or the user's config folder)")
    p.add_argument("--trust-remote-code", action="store_true",
                   help="run the Python code a model folder ships (only for models you trust); "
                   "model.model.trust_remote_code counts only in your own config folder")
    p.set_defaults(func=run_chat)


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_chat(args: argparse.Namespace) -> int:
    from llamahome_gui.core.chat.session import ChatSession

    if args.prompt is not None and not args.prompt.strip():
        _err("llamahome chat: error: --prompt is empty; give the question, e.g. --prompt "
             "\"What is LoRA?\", or leave --prompt out to chat interactively")
        return USER_ERROR
    try:
        setup = _setup_from_args(args)
    except ValueError as exc:
        _err(f"llamahome chat: error: {exc}")
        return USER_ERROR
    printer = _Printer()
    session = ChatSession(listener=printer)
    info = session.load(setup)
    if info is None or printer.failed:
        return USER_ERROR
    who = info.model_name + (f" + adapter {session.adapter}" if session.adapter else "")
    _err(f"Chatting with {who} on {info.device} ({info.decode or info.dtype}); context "
         f"{info.context_limit} tokens.")
    if args.prompt is not None:
        answered = _answer(session, setup, args.prompt, printer)
        return 0 if answered else USER_ERROR
    return _interactive(session, setup, printer)


class _Printer:
    """Draws the session's events in the terminal: the answer on stdout, the rest on stderr."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out
        self.failed = False

    def __call__(self, event: object) -> None:
        from llamahome_gui.core.chat import session as s

        if isinstance(event, s.LoadProgressed):
            _err(event.message)
        elif isinstance(event, s.ChatFailed):
            self.failed = True
            _err(f"llamahome chat: error: {event.message}")
        elif isinstance(event, s.GenerationStarted) and event.notice:
            _err(event.notice)
        elif isinstance(event, s.TokenReceived):
            self.out.write(event.text)
            self.out.flush()
        elif isinstance(event, s.GenerationFinished) and event.stats is not None:
            self.out.write("\n")
            self.out.flush()
            _err(f"[{event.stats.summary}]")


def _setup_from_args(args: argparse.Namespace) -> Any:
    from llamahome_gui.config.errors import display_path
    from llamahome_gui.config.manager import ConfigManager
    from llamahome_gui.core.chat.setup import ChatSetup
    from llamahome_gui.core.models.loading import remote_code_allowed

    manager = ConfigManager(args.config_dir)
    if manager.origin_note():
        _err(manager.origin_note())
    setup = ChatSetup.from_manager(manager)
    trusted, note = remote_code_allowed(
        setup.trust_remote_code, flag=args.trust_remote_code,
        trusted_source=manager.is_users_own, source=display_path(manager.path("model")))
    if note:
        _err(note)
    setup = setup.with_overrides(trust_remote_code=trusted)
    adapter = args.adapter
    if adapter is not None and adapter.strip().lower() in ("none", "off", ""):
        adapter = ""
    try:
        settings = setup.settings.with_overrides(temperature=args.temperature,
                                                 max_new_tokens=args.max_new_tokens)
    except ValueError as exc:
        first = exc.errors()[0] if hasattr(exc, "errors") else {}
        where = "--" + str(first.get("loc", ["value"])[0]).replace("_", "-")
        raise ValueError(f"{where}: {first.get('msg', exc)}") from None
    return setup.with_overrides(model_path=args.model, adapter_path=adapter,
                                system_prompt=args.system, settings=settings)


def _answer(session: Any, setup: Any, text: str, printer: _Printer) -> bool:
    """Ask ``text`` and stream the answer; Ctrl-C stops it (the part so far is kept).
    False when it failed (the question is then taken back)."""
    import signal

    printer.failed = False
    previous = signal.signal(signal.SIGINT, lambda *_: session.stop())
    try:
        finished = session.ask(text, setup)
    finally:
        signal.signal(signal.SIGINT, previous)
    messages = session.conversation.messages
    if messages and messages[-1].role == "user":
        messages.pop()  # failed, or stopped before a word: take the question back
    return bool(finished) and not printer.failed


def _interactive(session: Any, setup: Any, printer: _Printer) -> int:
    try:
        import readline  # noqa: F401 - line editing and history for input()
    except ImportError:
        pass
    _err(HELP)
    while True:
        try:
            line = input("you> ")
        except (EOFError, KeyboardInterrupt):
            print(file=sys.stderr)
            return 0
        text = line.strip()
        if not text:
            continue
        if text in ("/exit", "/quit"):
            return 0
        if text == "/reset":
            session.new_conversation()
            _err("New conversation.")
            continue
        if text == "/help":
            _err(HELP)
            continue
        sys.stdout.write("assistant> ")
        _answer(session, setup, line, printer)
