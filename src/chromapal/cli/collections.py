"""The ``export`` and ``search`` commands over a database of palettes, and the ``--db`` option."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from typing import TYPE_CHECKING

from ..errors import InvalidColorError, PaletteError
from .common import FiniteFloatRange, OneLineCommand, handle_errors
from .defaults import EXPORT_FORMATS
from .output import pipe_console, quiet_exit_after_broken_pipe, use_color

if TYPE_CHECKING:
    from ..search import Match
    from ..store import PaletteStore

DB_OPTION = click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default="palettes.sqlite",
    show_default=True,
    help="SQLite database of palettes.",
)

def open_store(db: Path, *, create: bool) -> PaletteStore:
    """Open the database, turning a missing or foreign file into a one-line error."""
    from ..store import PaletteStore

    try:
        return PaletteStore(db, create=create)
    except PaletteError as exc:
        raise click.ClickException(str(exc)) from exc


# -- export ------------------------------------------------------------------------------


@click.command("export", cls=OneLineCommand)
@DB_OPTION
@click.option(
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS),
    default=None,
    help="Output format.  [default: from the extension of -o; csv for -]",
)
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="FILE",
    help="File to write; - writes to standard output (csv unless --format jsonl).",
)
@handle_errors
def export_command(db: Path, fmt: str | None, output: str) -> None:
    """Export the stored palettes: CSV or Parquet (a row per colour), JSON Lines (one per image)."""
    from ..store_export import export

    store = open_store(db, create=False)
    try:
        fmt = fmt or ("csv" if output == "-" else _format_from_name(output))
        if output == "-" and fmt == "parquet":
            raise click.UsageError(
                "Parquet cannot be written to standard output; give a file with -o"
            )
        if output != "-" and not Path(output).resolve().parent.is_dir():
            raise click.UsageError(f"{output}: folder {str(Path(output).parent)!r} does not exist")
        n = export(store, fmt, sys.stdout if output == "-" else output)
    except PaletteError as exc:
        raise click.ClickException(str(exc)) from exc
    except BrokenPipeError:  # `chromapal export -o - | head`: the reader has all it wants
        store.close()
        quiet_exit_after_broken_pipe()
    except OSError as exc:  # disk full, permissions: nothing is left under the output name
        raise click.ClickException(f"{output}: cannot write ({exc.strerror or exc})") from exc
    finally:
        store.close()
    if output != "-":
        unit = "palettes" if fmt == "jsonl" else "colours"
        click.echo(f"Wrote {n} {unit} to {output}", err=True)


def _format_from_name(output: str) -> str:
    fmt = Path(output).suffix.lower().lstrip(".")
    if fmt not in EXPORT_FORMATS:
        raise click.UsageError(
            f"cannot tell the format of {output!r}; give --format ({', '.join(EXPORT_FORMATS)})"
        )
    return fmt


# -- search ------------------------------------------------------------------------------


def _parse_color(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from ..palette import parse_hex

    try:
        parse_hex(value)
    except InvalidColorError as exc:
        raise click.BadParameter(str(exc)) from exc
    return value


@click.command("search", cls=OneLineCommand)
@DB_OPTION
@click.option(
    "--color",
    "--colour",
    "color",
    required=True,
    callback=_parse_color,
    metavar="HEX",
    help="Colour to look for, e.g. '#c1a4a9'.",
)
@click.option(
    "--max-delta-e",
    type=FiniteFloatRange(0, min_open=True),
    default=10.0,
    show_default=True,
    help="Largest CIEDE2000 difference accepted.",
)
@click.option(
    "--min-share",
    type=FiniteFloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Ignore palette colours covering less of their image than this (0-1).",
)
@click.option(
    "--limit", type=click.IntRange(1), default=20, show_default=True, help="Images shown at most."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@handle_errors
def search_command(
    db: Path, color: str, max_delta_e: float, min_share: float, limit: int, as_json: bool
) -> None:
    """Find stored images whose palette holds a colour near --color (closest first)."""
    from ..search import search

    store = open_store(db, create=False)
    try:
        matches = search(store, color, max_delta_e=max_delta_e, min_share=min_share, limit=limit)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps([m.to_dict() for m in matches], indent=2))
        return
    if not matches:
        click.echo(f"No stored image has a colour within ΔE {max_delta_e:g} of {color}.")
        return
    if use_color():
        pipe_console(highlight=False).print(match_table(matches))
        return
    click.echo(f"{'ΔE':>6}  {'share':>6}  {'colour':<7}  {'rank':>4}  source")
    for m in matches:
        click.echo(f"{m.delta_e:6.2f}  {m.share * 100:5.1f}%  {m.hex}  {m.rank:4d}  {m.source}")


def match_table(matches: list[Match]) -> Any:
    """Return a Rich table of matches for terminals: ΔE, share, colour swatch, rank, source."""
    from rich.table import Table
    from rich.text import Text

    from ..palette import parse_hex, text_color_for

    table = Table(box=None, pad_edge=False, show_edge=False)
    for name, justify in (
        ("ΔE", "right"),
        ("share", "right"),
        ("colour", "left"),
        ("rank", "right"),
        ("source", "left"),
    ):
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for m in matches:
        swatch = Text(f" {m.hex} ", style=f"{text_color_for(parse_hex(m.hex))} on {m.hex}")
        table.add_row(f"{m.delta_e:.2f}", f"{m.share * 100:.1f}%", swatch, str(m.rank), m.source)
    return table
