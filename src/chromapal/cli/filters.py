"""The ``-k`` and ``--option`` filters of ``search`` and ``export``: which stored palettes they take."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .common import KRange

if TYPE_CHECKING:
    from ..store import PaletteFilter

F = TypeVar("F", bound=Callable[..., Any])


def filter_options(func: F) -> F:
    """``-k RANGE`` and ``--option NAME=VALUE``: which stored palettes a command takes."""
    func = click.option(
        "--option",
        "option_filters",
        multiple=True,
        metavar="NAME=VALUE",
        help="Only palettes made with this extraction option, e.g. --option space=lab (repeatable).",
    )(func)
    return click.option(
        "-k",
        "--colors",
        "--colours",
        "k_filter",
        type=KRange(),
        default=None,
        help="Only palettes of these k: 5, 2-6 or 2,4,8.  [default: every k]",
    )(func)


def make_filter(ks: list[int] | None, options: tuple[str, ...]) -> PaletteFilter:
    """The `PaletteFilter` of -k and --option values; a malformed --option is a usage error."""
    from ..batch import _EXTRACT_DEFAULTS, _jsonable
    from ..store import PaletteFilter

    wanted: dict[str, Any] = {}
    for item in options:
        name, sep, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name.isidentifier():
            raise click.BadParameter(f"{item!r}: expected NAME=VALUE, e.g. space=lab", param_hint="'--option'")
        if name not in _EXTRACT_DEFAULTS or name == "k":
            known = ", ".join(n for n in _EXTRACT_DEFAULTS if n != "k")
            raise click.BadParameter(f"{name!r} is not an extraction option ({known}; k has -k)",
                                     param_hint="'--option'")
        try:
            wanted[name] = json.loads(text)
        except ValueError:
            wanted[name] = text
    defaults = {name: _jsonable(value) for name, value in _EXTRACT_DEFAULTS.items()}
    return PaletteFilter(k=tuple(ks or ()), options=wanted, defaults=defaults)
