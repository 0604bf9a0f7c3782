"""The Ollama Modelfile: the GGUF, a Go ``TEMPLATE`` that renders conversations exactly as the
model's own chat template does, its stop tokens, the system prompt and sampling settings.

The template is not translated from Jinja by hand. The chat template is rendered around marker
messages, and the text between the markers (what comes before a system message, between system
and user, after a user message, between an answer and the next question) becomes the literal
pieces of the Go template. So any template that wraps each message in fixed text, ChatML,
Llama 3, Mistral and the rest, comes out right, defaults included (SmolLM2's template inserts
its own system prompt when there is none, and so does ours).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llamahome_gui.core.export.errors import UnsupportedModelError

_S, _U, _A, _U2 = "\x01SYSTEM\x01", "\x01USER\x01", "\x01ANSWER\x01", "\x01NEXT\x01"


@dataclass(frozen=True)
class TemplatePieces:
    """The fixed text around messages: ``head`` before a system message, ``system_to_user``,
    ``first_user`` before a user message that opens the chat, ``user_to_answer`` after a user
    message (where the answer starts), ``answer_to_user`` after an answer."""

    head: str
    system_to_user: str
    first_user: str
    user_to_answer: str
    answer_to_user: str

    def render(self, messages: list[dict[str, str]]) -> str:
        """What the Go template produces, for checking it against the chat template."""
        out, prev = [], ""
        for m in messages:
            if m["role"] == "system":
                out += [self.head, m["content"]]
            elif m["role"] == "user":
                lead = {"system": self.system_to_user, "": self.first_user}.get(
                    prev, self.answer_to_user)
                out += [lead, m["content"], self.user_to_answer]
            else:
                out.append(m["content"])
            prev = m["role"]
        return "".join(out)


def _between(text: str, start: str, end: str) -> str:
    i = text.index(start) + len(start)
    return text[i:text.index(end, i)]


def template_pieces(tokenizer: Any) -> TemplatePieces:
    """Measure the chat template's fixed text; refuse templates that are not of that shape."""
    def render(messages: list[dict[str, str]], gen: bool) -> str:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen)

    if not getattr(tokenizer, "chat_template", None):
        raise UnsupportedModelError("the model has no chat template to build an Ollama TEMPLATE "
                                    "from; use --format gguf")
    sys_, usr = {"role": "system", "content": _S}, {"role": "user", "content": _U}
    ans, usr2 = {"role": "assistant", "content": _A}, {"role": "user", "content": _U2}
    try:
        with_system = render([sys_, usr, ans, usr2], True)
        without = render([usr], True)
        pieces = TemplatePieces(
            head=with_system[:with_system.index(_S)],
            system_to_user=_between(with_system, _S, _U),
            first_user=without[:without.index(_U)],
            user_to_answer=_between(with_system, _U, _A),
            answer_to_user=_between(with_system, _A, _U2))
    except (ValueError, Exception) as exc:  # noqa: BLE001 - templates raise their own errors
        raise UnsupportedModelError(f"its chat template cannot be expressed as an Ollama "
                                    f"TEMPLATE ({exc})") from None
    tail = with_system[with_system.index(_U2) + len(_U2):]
    probe = [sys_, usr, ans, usr2]
    if tail != pieces.user_to_answer or pieces.render(probe) != with_system:
        raise UnsupportedModelError("its chat template varies per message in a way an Ollama "
                                    "TEMPLATE cannot reproduce; use --format gguf")
    return pieces


def _without_bos(tokenizer: Any, pieces: TemplatePieces) -> TemplatePieces:
    """Drop a BOS the template writes when the tokenizer adds one anyway (else: BOS twice)."""
    from dataclasses import replace

    from llamahome_gui.core.export.gguf_vocab import adds_special_tokens

    bos = getattr(tokenizer, "bos_token", None)
    if not bos or not adds_special_tokens(tokenizer)[0]:
        return pieces
    return replace(pieces, head=pieces.head.removeprefix(bos),
                   first_user=pieces.first_user.removeprefix(bos))


def _lit(text: str) -> str:
    """A Go template action printing ``text`` (JSON string escapes are valid Go escapes)."""
    return "{{ " + json.dumps(text, ensure_ascii=False) + " }}" if text else ""


def go_template(p: TemplatePieces) -> str:
    # Text lives inside string actions so that "{{-" trimming never eats a newline of the
    # template's own text.
    return ("{{- $prev := \"\" }}\n"
            "{{- range .Messages }}\n"
            f"{{{{- if eq .Role \"system\" }}}}{_lit(p.head)}{{{{ .Content }}}}\n"
            "{{- else if eq .Role \"user\" }}"
            f"{{{{- if eq $prev \"system\" }}}}{_lit(p.system_to_user)}"
            f"{{{{- else if eq $prev \"\" }}}}{_lit(p.first_user)}"
            f"{{{{- else }}}}{_lit(p.answer_to_user)}{{{{- end }}}}"
            f"{{{{ .Content }}}}{_lit(p.user_to_answer)}\n"
            "{{- else if eq .Role \"assistant\" }}{{ .Content }}\n"
            "{{- end }}\n"
            "{{- $prev = .Role }}\n"
            "{{- end }}")


def stop_tokens(tokenizer: Any, pieces: TemplatePieces) -> list[str]:
    """The end-of-sequence token and every special token that closes an answer."""
    specials = [t for t in getattr(tokenizer, "all_special_tokens", []) if t]
    found = [t for t in specials if t in pieces.answer_to_user]
    eos = getattr(tokenizer, "eos_token", None)
    stops = ([eos] if eos else []) + found
    return list(dict.fromkeys(stops))


def _quote(text: str) -> str:
    return '"""' + text.replace('"""', '\\"\\"\\"') + '"""'


def modelfile(tokenizer: Any, gguf_name: str, *, system_prompt: str, temperature: float,
              top_p: float, context_length: int | None = None) -> str:
    """The Modelfile text for the GGUF file ``gguf_name`` lying next to it."""
    pieces = _without_bos(tokenizer, template_pieces(tokenizer))
    lines = [f"FROM ./{gguf_name}", "", f"TEMPLATE {_quote(go_template(pieces))}", ""]
    if system_prompt.strip():
        lines += [f"SYSTEM {_quote(system_prompt)}", ""]
    for stop in stop_tokens(tokenizer, pieces):
        lines.append(f"PARAMETER stop {json.dumps(stop, ensure_ascii=False)}")
    lines.append(f"PARAMETER temperature {temperature:g}")
    lines.append(f"PARAMETER top_p {top_p:g}")
    if context_length:
        lines.append(f"PARAMETER num_ctx {context_length}")
    return "\n".join(lines) + "\n"


def create_command(name: str, folder: Path) -> str:
    """The line that registers the exported model with Ollama."""
    return f"cd {folder} && ollama create {name} -f Modelfile"
