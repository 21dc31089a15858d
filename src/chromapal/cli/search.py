"""The ``search`` command, and the -k / --option filters it shares with ``export``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import InvalidColorError, PaletteError
from .collections import DB_OPTION, open_store
from .common import FiniteFloatRange, OneLineCommand, handle_errors
from .filters import filter_options, make_filter
from .output import pipe_console, use_color

if TYPE_CHECKING:
    from ..store import PaletteFilter


def _check_colors(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    from ..search_multi import ColorQuery

    for value in values:
        try:
            ColorQuery.parse(value)
        except InvalidColorError as exc:
            raise click.BadParameter(str(exc)) from exc
    return values


def _parse_facets(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, float]:
    from ..facets import check_facet

    out = {}
    for value in values:
        name, _, share = value.partition(":")
        try:
            out[check_facet(name)] = float(share.rstrip("%")) / (100 if share.endswith("%") else 1) if share else 0.0
        except ValueError as exc:
            raise click.BadParameter(str(exc) if "facet" in str(exc) else f"{value!r}: the share is not a number") from exc
        if not 0 <= out[check_facet(name)] <= 1:
            raise click.BadParameter(f"{value!r}: the share must be between 0 and 100 %")
    return out


@click.command("search", cls=OneLineCommand)
@DB_OPTION
@click.option("--color", "--colour", "colors", multiple=True, callback=_check_colors, metavar="COLOR",
              help="Colour to look for: hex or CSS name, with an optional minimum share and weight: "
                   "'#c1a4a9:30%', 'navy*2' (repeatable: images holding all of them).")
@click.option("--facet", "facets", multiple=True, callback=_parse_facets, metavar="NAME[:SHARE]",
              help="Named-colour facet the image must cover, e.g. blue:30% (repeatable).")
@click.option("--like", "like", metavar="IMAGE", default=None,
              help="Find the stored palettes most similar to this image's (a file or URL).")
@filter_options
@click.option("--max-delta-e", type=FiniteFloatRange(0, min_open=True), default=10.0, show_default=True,
              help="Largest CIEDE2000 difference accepted for each colour.")
@click.option("--min-share", type=FiniteFloatRange(0, 1), default=0.0, show_default=True,
              help="With one --color: ignore palette colours covering less of their image than this (0-1).")
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True, help="Images shown at most.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@handle_errors
def search_command(
    db: Path,
    colors: tuple[str, ...],
    facets: dict[str, float],
    like: str | None,
    k_filter: list[int] | None,
    option_filters: tuple[str, ...],
    max_delta_e: float,
    min_share: float,
    limit: int,
    as_json: bool,
) -> None:
    """Find stored images by colour (closest first), by named-colour facet, or by a similar palette.

    Every result names the palette's k and options (an image batched with several k has
    a palette per k) and, for IIIF canvases, its label.
    """
    if like is not None and (colors or facets):
        raise click.UsageError("give --like, or colours and facets, not both")
    if like is None and not colors and not facets:
        raise click.UsageError("give --color, --facet or --like")
    where = make_filter(k_filter, option_filters)
    store = open_store(db, create=False)
    try:
        if like is not None:
            rows = _like(store, like, limit, where)
        elif len(colors) == 1 and not facets and ":" not in colors[0] and "*" not in colors[0]:
            from ..search import search

            matches = search(store, colors[0], max_delta_e=max_delta_e, min_share=min_share, limit=limit,
                             where=where)
            rows = [m.to_dict() for m in matches]
        else:
            from ..search_multi import search_colors

            found = search_colors(store, colors, facets=facets, max_delta_e=max_delta_e, limit=limit, where=where)
            rows = [m.to_dict() for m in found]
    except PaletteError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("No stored image matches." if like is None or colors else "No stored palette.")
        return
    _print(rows)


def _like(store: Any, image: str, limit: int, where: PaletteFilter) -> list[dict[str, object]]:
    """The rows of a --like search: the image's palette (k = 8) against the stored ones."""
    from ..load import is_url
    from ..pipeline import extract
    from ..search_like import search_like

    palette = extract(image)
    source = image if is_url(image) else os.path.abspath(image)
    found = search_like(store, palette.colors.tolist(), palette.proportions.tolist(), limit=limit,
                        where=where, exclude=source)
    return [m.to_dict() for m in found]


def _options_text(options: dict[str, Any]) -> str:
    return " ".join(f"{k}={json.dumps(v)}" for k, v in options.items() if k != "k") or "-"


def _print(rows: list[dict[str, Any]]) -> None:
    """A table: distance, the matched colour (one-colour search), k, options and the image."""
    one_color = "hex" in rows[0]
    head = ["ΔE", "share", "colour", "rank"] if one_color else ["distance"]
    head += ["k", "options", "image"]
    lines = []
    for r in rows:
        name = r["source"] if not r.get("label") else f"{r['label']}  {r['source']}"
        cells = (
            [f"{r['delta_e']:.2f}", f"{r['share'] * 100:.1f}%", r["hex"], str(r["rank"])]
            if one_color
            else [f"{r['distance']:.2f}"]
        )
        lines.append([*cells, str(r["k"]), _options_text(r["options"]), name])
    if use_color():
        from rich.table import Table
        from rich.text import Text

        from ..palette import parse_hex, text_color_for

        table = Table(box=None, pad_edge=False, show_edge=False)
        for title in head:
            table.add_column(title, justify="left" if title in ("colour", "options", "image") else "right",
                             overflow="fold")
        for line in lines:
            cells: list[Any] = list(line)
            if one_color:
                cells[2] = Text(f" {line[2]} ", style=f"{text_color_for(parse_hex(line[2]))} on {line[2]}")
            table.add_row(*cells)
        pipe_console(highlight=False).print(table)
        return
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(head[:-1])]
    click.echo("  ".join(h.rjust(w) for h, w in zip(head, widths)) + "  " + head[-1])
    for line in lines:
        click.echo("  ".join(c.rjust(w) for c, w in zip(line, widths)) + "  " + line[-1])
