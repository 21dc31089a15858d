"""Text that goes inside other files: comments that cannot end early, quoted strings.

A file name or scheme name may hold anything a user or a file system allows: a newline,
``*/``, ``-->``, quotes. Every writer puts such text only through these helpers, so it
never ends a comment, a line or a string of the file it is written into.
"""

from __future__ import annotations

import re
from typing import Final

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]+")
#: Sequences that end (or, in XML, break) a comment, and what they become.
_CLOSERS: Final = (("*/", "*\u2215"), ("-->", "--\u203a"), ("--", "-\u2010"), ("]]>", "]]\u203a"))


def one_line(text: str) -> str:
    """`text` with control characters (newlines, tabs, NUL ...) turned into single spaces."""
    return _CONTROL.sub(" ", text).strip()


def comment_text(text: str) -> str:
    """`text` safe inside any comment: one line, and ``*/``, ``--``, ``]]>`` broken up.

    ``*/`` becomes ``*∕`` (U+2215 DIVISION SLASH) and ``--`` becomes ``-‐`` (U+2010), so
    the text reads the same but closes no CSS, C, SCSS or XML comment.
    """
    out = one_line(text)
    for closer, safe in _CLOSERS:
        out = out.replace(closer, safe)
    return out


def toml_string(text: str) -> str:
    """A TOML basic string (double-quoted, escaped) holding `text`."""
    out = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + _CONTROL.sub(lambda m: "".join(f"\\u{ord(c):04x}" for c in m[0]), out) + '"'


def sh_quote(text: str) -> str:
    """A POSIX shell single-quoted word holding `text` exactly."""
    return "'" + text.replace("'", "'\\''") + "'"


def gvariant_string(text: str) -> str:
    """A GVariant text-format string (``'...'``) holding `text`, for ``dconf write``."""
    return "'" + one_line(text).replace("\\", "\\\\").replace("'", "\\'") + "'"


def header_line(name: str, comment: str) -> str:
    """The first line of a theme file: `comment` marker, the scheme's `name`, who made it."""
    return f"{comment} {comment_text(name)}: terminal colours made by chromapal\n"
