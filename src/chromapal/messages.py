"""Helpers that keep an error message to one readable line."""

from __future__ import annotations

from typing import Final

#: Longest quoted cause (an exception's text) in a message.
CAUSE_CHARS: Final = 160


def printable(name: str) -> str:
    """`name` with control characters escaped, so a message stays one line."""
    return name if name.isprintable() else name.encode("unicode_escape", "backslashreplace").decode("ascii")


def one_line(value: object) -> str:
    """`value` as text on one line (messages must stay one line)."""
    return " ".join(str(value).split())


def cause(exc: BaseException) -> str:
    """``'TypeName: text'`` of `exc` on one line, the text cut to `CAUSE_CHARS`."""
    text = one_line(exc)
    if len(text) > CAUSE_CHARS:
        text = text[: CAUSE_CHARS - 3] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
