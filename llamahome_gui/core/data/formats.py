"""Reading dataset files: JSON arrays, JSON lines and plain text, in alpaca, chat (messages or
ShareGPT) or text layout, detected from the file or chosen by the caller.

Every record becomes a conversation (a list of role/content messages) or a plain string, so
the rest of the engine never sees the file's own layout.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llamahome_gui.core.data.records import (
    FORMATS,
    Conversation,
    Dataset,
    DatasetError,
    Problem,
    Record,
)

TEXT_SUFFIXES = (".txt", ".text", ".md")
ROLES = ("system", "user", "assistant")
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "system": "system", "chatgpt": "assistant", "bing": "assistant", "bard": "assistant"}
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_SURROGATE = re.compile("[\ud800-\udfff]")
TOO_DEEP = "nested too deeply to be a dataset record (JSON lists or objects inside each other)"


@dataclass
class RawItem:
    """One parsed (or unparsable) item of the file, with where it came from."""

    value: Any
    line: int | None = None
    record: int | None = None
    error: str | None = None


def read_items(path: Path) -> tuple[list[RawItem], str, list[Problem]]:
    """The file's items, its container kind ("json", "jsonl" or "txt") and file-level problems."""
    name = path.name
    if not path.exists():
        raise DatasetError([Problem(name, f"file not found ({path}); check training.training."
                                          "dataset_path or the path you gave")], path)
    if path.is_dir():
        raise DatasetError([Problem(name, "is a folder; give a .json, .jsonl or .txt file")], path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise DatasetError([Problem(name, f"not UTF-8 text ({exc.reason}); save the file as "
                                          "UTF-8", line=line)], path) from None
    binary = _binary_share(text)
    if binary:
        raise DatasetError([Problem(name, f"looks like a binary file ({binary:.0%} of its first "
                                          "characters are control characters), not a text "
                                          "dataset; give a .json, .jsonl or .txt file")], path)
    if path.suffix.lower() in TEXT_SUFFIXES:
        return _text_items(text), "txt", []
    stripped = text.lstrip()
    if not stripped:
        return [], "jsonl", [Problem(name, "the file is empty")]
    if stripped[0] == "[" or (path.suffix.lower() == ".json" and stripped[0] != "{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            return [], "json", [Problem(name, f"invalid JSON: {exc.msg} (column {exc.colno})",
                                        line=exc.lineno)]
        except RecursionError:
            return [], "json", [Problem(name, TOO_DEEP)]
        if not isinstance(data, list):
            return [], "json", [Problem(name, "expected a JSON array of records "
                                              f"([{{...}}, {{...}}]), found a {_kind(data)}")]
        return [RawItem(v, record=i) for i, v in enumerate(data, 1)], "json", []
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson") or stripped[0] == "{":
        items = list(_jsonl_items(text))
        if path.suffix.lower() != ".jsonl" and any(item.error for item in items):
            # A single JSON object spread over several lines is still JSON.
            try:
                return [RawItem(json.loads(text), line=1)], "json", []
            except (json.JSONDecodeError, RecursionError):
                pass
        return items, "jsonl", []
    return _text_items(text), "txt", []


def _binary_share(text: str, sample: int = 65536) -> float:
    """The share of control characters (tab and line breaks aside) at the start of the file
    when it is over 5% or holds a NUL: such a file decodes as UTF-8 by chance, it is no text."""
    head = text[:sample]
    if not head:
        return 0.0
    control = sum(1 for ch in head if ch < " " and ch not in "\t\n\r\f")
    share = control / len(head)
    return share if share > 0.05 or "\0" in head else 0.0


def _jsonl_items(text: str) -> Iterator[RawItem]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield RawItem(json.loads(line), line=number)
        except json.JSONDecodeError as exc:
            yield RawItem(None, line=number,
                          error=f"invalid JSON: {exc.msg} (column {exc.colno})")
        except RecursionError:
            yield RawItem(None, line=number, error=TOO_DEEP)


def _text_items(text: str) -> list[RawItem]:
    """One record per blank-line-separated paragraph, each with the line it starts on."""
    text = text.replace("\r\n", "\n")
    items: list[RawItem] = []
    pos = 0
    for match in [*_PARAGRAPH_BREAK.finditer(text), None]:
        end = match.start() if match else len(text)
        block = text[pos:end]
        if block.strip():
            start = pos + len(block) - len(block.lstrip())
            items.append(RawItem(block.strip(), line=text.count("\n", 0, start) + 1))
        pos = match.end() if match else end
    return items


def detect_format(items: list[RawItem], container: str) -> str | None:
    """alpaca, chat, text or preference, from the keys of the first records; None when it
    cannot tell."""
    if container == "txt":
        return "text"
    for item in items[:50]:
        if not isinstance(item.value, dict):
            continue
        keys = item.value.keys()
        if "chosen" in keys and "rejected" in keys:
            return "preference"
        if "messages" in keys or "conversations" in keys:
            return "chat"
        if "instruction" in keys:
            return "alpaca"
        if "text" in keys:
            return "text"
    return None


def _kind(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "true/false",
            type(None): "null"}.get(type(value), "number")


def _string(record: dict[str, Any], key: str, *, required: bool = True,
            allow_empty: bool = False) -> tuple[str, str | None]:
    if key not in record:
        return "", (f'missing "{key}"' if required else None)
    value = record[key]
    if value is None and not required:
        return "", None
    if not isinstance(value, str):
        return "", f'"{key}" must be a string, found a {_kind(value)}'
    if required and not allow_empty and not value.strip():
        return "", f'"{key}" is empty'
    return value, None


def alpaca_record(value: Any) -> tuple[Record | None, str | None]:
    if not isinstance(value, dict):
        return None, f"expected an object with instruction/input/output, found a {_kind(value)}"
    instruction, err = _string(value, "instruction")
    if err:
        return None, err
    extra, err = _string(value, "input", required=False)
    if err:
        return None, err
    output, err = _string(value, "output")
    if err:
        return None, err
    system, err = _string(value, "system", required=False)
    if err:
        return None, err
    prompt = f"{instruction}\n\n{extra}" if extra.strip() else instruction
    conversation: Conversation = [{"role": "system", "content": system}] if system.strip() else []
    conversation += [{"role": "user", "content": prompt}, {"role": "assistant", "content": output}]
    return conversation, None


def chat_record(value: Any) -> tuple[Record | None, str | None]:
    if not isinstance(value, dict):
        return None, f"expected an object with \"messages\", found a {_kind(value)}"
    sharegpt = "messages" not in value and "conversations" in value
    key = "conversations" if sharegpt else "messages"
    if key not in value:
        return None, 'missing "messages" (or ShareGPT "conversations")'
    turns = value[key]
    if not isinstance(turns, list) or not turns:
        return None, f'"{key}" must be a non-empty list of turns'
    conversation: Conversation = []
    for i, turn in enumerate(turns, 1):
        if not isinstance(turn, dict):
            return None, f'{key}[{i}] must be an object, found a {_kind(turn)}'
        if sharegpt:
            who, content = turn.get("from"), turn.get("value")
            role = SHAREGPT_ROLES.get(str(who).lower()) if who is not None else None
            if role is None:
                return None, (f'{key}[{i}]: "from" is {who!r}; use human, gpt or system'
                              if who is not None else f'{key}[{i}]: missing "from"')
            field = "value"
        else:
            role, content, field = turn.get("role"), turn.get("content"), "content"
            if role not in ROLES:
                return None, (f'{key}[{i}]: "role" is {role!r}; use system, user or assistant'
                              if role is not None else f'{key}[{i}]: missing "role"')
        if not isinstance(content, str):
            return None, (f'{key}[{i}]: missing "{field}"' if content is None and field not in turn
                          else f'{key}[{i}]: "{field}" must be a string, found a {_kind(content)}')
        conversation.append({"role": role, "content": content})
    if not any(m["role"] == "assistant" for m in conversation):
        return None, f'"{key}" has no assistant turn, so there is nothing to learn'
    if conversation[0]["role"] == "assistant":
        return None, f'"{key}" starts with an assistant turn; start with system or user'
    return conversation, None


def text_record(value: Any) -> tuple[Record | None, str | None]:
    if isinstance(value, str):
        return (value, None) if value.strip() else (None, "empty text")
    if not isinstance(value, dict):
        return None, f'expected an object with "text", found a {_kind(value)}'
    text, err = _string(value, "text")
    return (None, err) if err else (text, None)


NORMALIZERS = {"alpaca": alpaca_record, "chat": chat_record, "text": text_record}


def _normalizer(fmt: str) -> Any:
    if fmt == "preference":  # the SFT view: context + chosen answer (DPO reads the pairs)
        from llamahome_gui.core.data.preference import chosen_record

        return chosen_record
    return NORMALIZERS[fmt]


def normalize_items(items: list[RawItem], name: str, normalize: Any,
                    ) -> tuple[list[tuple[RawItem, Any, str]], list[Problem]]:
    """(item, normalized value, location) of every usable item, and a Problem (file:line or
    record number) for every other."""
    good: list[tuple[RawItem, Any, str]] = []
    problems: list[Problem] = []
    for item in items:
        value, err = (None, item.error) if item.error else normalize(item.value)
        if err or value is None:
            problems.append(Problem(name, err or "unusable record", line=item.line,
                                    record=item.record))
            continue
        good.append((item, value, Problem(name, "", line=item.line, record=item.record).where))
    return good, problems


def parse_dataset(path: str | Path, fmt: str = "auto") -> tuple[Dataset, list[Problem]]:
    """The dataset and every problem found (does not raise for bad records)."""
    path = Path(path).expanduser()
    if fmt not in ("auto", *FORMATS):
        raise ValueError(f"unknown dataset format {fmt!r}; use auto, {', '.join(FORMATS)}")
    items, container, problems = read_items(path)
    name = path.name
    if fmt == "auto":
        detected = detect_format(items, container)
        if detected is None and any(i.error is None for i in items) and not problems:
            keys = next((sorted(i.value)[:8] for i in items if isinstance(i.value, dict)), None)
            hint = f"records have keys {keys}" if keys is not None else "no record is a JSON object"
            problems.append(Problem(name, f"cannot tell the format: {hint}; expected instruction/"
                                          "input/output (alpaca), messages or conversations "
                                          "(chat), text, or chosen/rejected (preference); "
                                          "or choose the format explicitly"))
        fmt = detected or "alpaca"
    elif container == "txt" and fmt != "text":
        problems.append(Problem(name, f"a plain-text file can only be read as format text, "
                                      f"not {fmt}"))
    good, bad = normalize_items(items, name, _checked(_normalizer(fmt)))
    problems += bad
    records: list[Record] = [record for _, record, _ in good]
    locations = [where for _, _, where in good]
    kinds = {"sharegpt" if "conversations" in item.value and "messages" not in item.value
             else "messages" if fmt == "chat" else fmt
             for item, _, _ in good if isinstance(item.value, dict)}
    if not items and not problems:
        problems.append(Problem(name, "the file holds no records"))
    source = "txt" if container == "txt" else "+".join(sorted(kinds)) or fmt
    return Dataset(path, fmt, records, locations, source), problems  # type: ignore[arg-type]


def _checked(normalize: Any) -> Any:
    """``normalize`` followed by the text check every format shares."""
    def check(value: Any) -> tuple[Any, str | None]:
        record, err = normalize(value)
        if record is not None and not err:
            err = _bad_text(record)
        return record, err
    return check


def _bad_text(record: Record) -> str | None:
    """Text no tokenizer can take: a lone UTF-16 surrogate (a ``\\ud800`` escape in JSON
    without its pair)."""
    texts = [record] if isinstance(record, str) else [m["content"] for m in record]
    for text in texts:
        found = _SURROGATE.search(text)
        if found:
            return (f"contains a lone surrogate escape \\u{ord(found.group()):04x} (half of "
                    "a character); fix or remove that escape")
    return None


def load_dataset(path: str | Path, fmt: str = "auto") -> Dataset:
    """Load and validate a dataset; raise ``DatasetError`` listing the first bad records."""
    dataset, problems = parse_dataset(path, fmt)
    if problems:
        bad = sum(1 for p in problems if p.line is not None or p.record is not None)
        raise DatasetError(problems, dataset.path, len(dataset.records) + bad)
    return dataset
