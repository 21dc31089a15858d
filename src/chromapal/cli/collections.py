"""The ``export`` command over a database of palettes, and the ``--db`` option (``search``: cli/search.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from typing import TYPE_CHECKING

from ..errors import PaletteError
from .common import OneLineCommand, handle_errors
from .defaults import EXPORT_FORMATS
from .filters import filter_options as _filter_options
from .filters import make_filter
from .output import quiet_exit_after_broken_pipe

if TYPE_CHECKING:
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
@_filter_options
@handle_errors
def export_command(
    db: Path, fmt: str | None, output: str, k_filter: list[int] | None, option_filters: tuple[str, ...]
) -> None:
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
        n = export(store, fmt, sys.stdout if output == "-" else output, make_filter(k_filter, option_filters))
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
