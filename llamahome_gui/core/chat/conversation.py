"""A conversation as plain data: messages, JSON files in the history folder, Markdown export.

Kept free of torch and Qt so the history list and export work before any model is loaded.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from llamahome_gui import paths

Role = Literal["system", "user", "assistant"]
FORMAT_VERSION = 1


class ConversationFileError(ValueError):
    """A saved conversation cannot be read; the message names the file and the fix."""


@dataclass
class Message:
    role: Role
    content: str
    stats: dict[str, Any] | None = None  # time to first token, tokens/s… for answers


@dataclass
class Conversation:
    """One chat. ``id`` doubles as the file name, so saving twice overwrites, never duplicates.

    An A/B comparison is one conversation too: ``messages`` are the adapter's side (B) and
    ``base_messages`` the base model's answers to the same questions (A); a plain chat has
    no ``base_messages``. :func:`join_ab` / :func:`split_ab` convert between the two forms."""

    messages: list[Message] = field(default_factory=list)
    base_messages: list[Message] = field(default_factory=list)
    title: str = ""
    system_prompt: str = ""
    model: str = ""
    adapter: str = ""
    id: str = field(default_factory=lambda: datetime.now().strftime("%Y%m%d-%H%M%S-")
                    + uuid.uuid4().hex[:6])
    created: str = field(default_factory=lambda: _now())
    updated: str = field(default_factory=lambda: _now())

    def add(self, role: Role, content: str, stats: dict[str, Any] | None = None) -> Message:
        message = Message(role, content, stats)
        self.messages.append(message)
        if not self.title and role == "user":
            self.title = make_title(content)
        self.updated = _now()
        return message

    @property
    def is_ab(self) -> bool:
        return bool(self.base_messages)

    def turns(self) -> list[dict[str, str]]:
        """The messages as chat-template dicts (``role``/``content``), system prompt excluded."""
        return [{"role": m.role, "content": m.content} for m in self.messages if m.role != "system"]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["format_version"] = FORMAT_VERSION
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<memory>") -> Conversation:
        try:
            messages = [Message(m["role"], m["content"], m.get("stats")) for m in data["messages"]]
            base = [Message(m["role"], m["content"], m.get("stats"))
                    for m in data.get("base_messages") or []]
        except (KeyError, TypeError) as exc:
            raise ConversationFileError(
                f"{source}: not a saved conversation (each message needs 'role' and 'content'; "
                f"problem: {exc!r}); delete or fix the file") from exc
        keep = {k: str(data[k]) for k in ("title", "system_prompt", "model", "adapter", "id",
                                          "created", "updated") if data.get(k) is not None}
        return cls(messages=messages, base_messages=base, **keep)

    def to_markdown(self) -> str:
        """A readable transcript: title, settings, then each turn under its speaker."""
        lines = [f"# {self.title or 'Conversation'}", ""]
        meta = [("Model", self.model), ("Adapter", self.adapter), ("Date", self.created[:19])]
        lines += [f"- **{name}:** {value}" for name, value in meta if value]
        if self.system_prompt:
            lines += [f"- **System prompt:** {self.system_prompt}"]
        for message in self.messages:
            speaker = {"user": "You", "assistant": "Assistant", "system": "System"}[message.role]
            lines += ["", f"## {speaker}", "", message.content.rstrip()]
            if message.stats and message.stats.get("summary"):
                lines += ["", f"*{message.stats['summary']}*"]
        return "\n".join(lines).rstrip() + "\n"


def join_ab(base: Conversation, tuned: Conversation) -> Conversation:
    """An A/B session (A: base model, B: adapter) as the one conversation that is saved; it
    keeps B's id, so saving after every answer overwrites the same file."""
    return Conversation(messages=list(tuned.messages), base_messages=list(base.messages),
                        title=tuned.title or base.title, system_prompt=tuned.system_prompt,
                        model=tuned.model or base.model, adapter=tuned.adapter, id=tuned.id,
                        created=tuned.created, updated=tuned.updated)


def split_ab(conversation: Conversation) -> dict[str, Conversation]:
    """A saved A/B conversation back as its two sides, ``{"A": base, "B": adapter}``."""
    common = {"title": conversation.title, "system_prompt": conversation.system_prompt,
              "model": conversation.model, "created": conversation.created,
              "updated": conversation.updated}
    return {"A": Conversation(messages=list(conversation.base_messages), id=f"{conversation.id}-A",
                              **common),
            "B": Conversation(messages=list(conversation.messages), adapter=conversation.adapter,
                              id=conversation.id, **common)}


def make_title(text: str, limit: int = 60) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def history_dir(configured: str = "") -> Path:
    """``inference.chat.history_dir``, or the ``chats`` folder in the user data folder."""
    return Path(configured).expanduser() if configured.strip() else paths.chat_history_dir()


def save_conversation(conversation: Conversation, folder: Path) -> Path:
    """Write ``<folder>/<id>.json`` atomically (a crash never leaves half a file)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{_safe_name(conversation.id)}.json"
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(json.dumps(conversation.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, target)
    return target


def load_conversation(path: Path) -> Conversation:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConversationFileError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); "
                                    "fix or delete the file") from exc
    except OSError as exc:
        raise ConversationFileError(f"{path}: cannot be read ({exc.strerror})") from exc
    if not isinstance(data, dict):
        raise ConversationFileError(f"{path}: expected a JSON object with 'messages'")
    conversation = Conversation.from_dict(data, source=str(path))
    conversation.id = Path(path).stem
    return conversation


@dataclass(frozen=True)
class SavedConversation:
    path: Path
    title: str
    updated: str
    turns: int
    ab: bool = False  # an A/B comparison (base model beside an adapter)


def list_conversations(folder: Path) -> list[SavedConversation]:
    """Saved conversations, newest first; unreadable files are skipped (they show up on open)."""
    found: list[SavedConversation] = []
    if not folder.is_dir():
        return found
    for path in folder.glob("*.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            found.append(SavedConversation(path, str(data.get("title") or path.stem),
                                           str(data.get("updated", "")),
                                           len(data.get("messages", [])),
                                           bool(data.get("base_messages"))))
        except (OSError, ValueError, AttributeError):
            continue
    return sorted(found, key=lambda s: (s.updated, s.path.name), reverse=True)


def export_markdown(conversation: Conversation, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(conversation.to_markdown(), encoding="utf-8")
    return path


def ab_markdown(base: Conversation, tuned: Conversation, adapter_label: str) -> str:
    """An A/B session as one transcript: each question, then answer A (base) and B (adapter)."""
    lines = [f"# A/B: {tuned.title or 'comparison'}", "",
             f"- **A:** base model {tuned.model}", f"- **B:** adapter {adapter_label}"]
    answers = {"A": [m for m in base.messages if m.role == "assistant"],
               "B": [m for m in tuned.messages if m.role == "assistant"]}
    questions = [m for m in tuned.messages if m.role == "user"]
    for i, question in enumerate(questions):
        lines += ["", "## You", "", question.content.rstrip()]
        for side, name in (("A", "base model"), ("B", adapter_label)):
            if i < len(answers[side]):
                lines += ["", f"### {side} · {name}", "", answers[side][i].content.rstrip()]
    return "\n".join(lines).rstrip() + "\n"


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text) or "conversation"
