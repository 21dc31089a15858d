"""Errors of the ``chromapal`` commands: one line, ``Error: ...``, never a traceback.

Exit status 1 for an input that cannot be used, 2 for a usage error (`OneLineCommand`).
A missing optional dependency gets the install hint of its extra (`extra_hint`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


#: Optional dependency -> the extra that installs it (pyproject.toml).
EXTRAS = {"matplotlib": "charts", "pyarrow": "parquet", "distributed": "dask", "dask": "dask",
          "fastapi": "web", "uvicorn": "web", "multipart": "web"}


def extra_hint(module: str, what: str | None = None) -> str | None:
    """``pie charts need the 'charts' extra: pip install 'chromapal[charts]' (matplotlib is missing)``."""
    root = module.split(".")[0]
    extra = EXTRAS.get(root)
    if extra is None:
        return None
    return f"{what or 'this command'} needs the '{extra}' extra: pip install 'chromapal[{extra}]' ({root} is missing)"


#: Library wording -> the command line's: messages name flags, not Python parameters.
CLI_WORDING = {
    "raise it with max_pixels or --max-pixels": "raise it with --max-pixels",
}


def for_cli(message: str) -> str:
    """`message` from the library, naming command-line flags instead of Python parameters."""
    for library, cli in CLI_WORDING.items():
        message = message.replace(library, cli)
    return message


def needs_extra(module: str, extra: str, what: str) -> None:
    """Fail with the install hint (exit 1) unless `module`, from `extra`, can be imported."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise click.ClickException(extra_hint(module, what) or f"{what} need {module}") from exc


def handle_errors(func: F) -> F:
    """Turn any unexpected exception into a one-line error (no traceback for users).

    A missing optional dependency gets the install hint of its extra (`extra_hint`).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt,
                BrokenPipeError):
            raise
        except ModuleNotFoundError as exc:
            hint = extra_hint(exc.name or str(exc).rpartition(" ")[2].strip("'"), f"chromapal {func.__name__.removesuffix('_command')}")
            if hint is None:
                raise click.ClickException(f"unexpected {type(exc).__name__}: {exc}") from exc
            raise click.ClickException(hint) from exc
        except Exception as exc:  # noqa: BLE001 - last resort: one line, exit 1
            raise click.ClickException(f"unexpected {type(exc).__name__}: {exc}") from exc

    return wrapper  # type: ignore[return-value]



class OneLineCommand(click.Command):
    """A command whose usage errors print one line, ``Error: ...``, without the usage text."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Parse as usual; drop the context from usage errors so click prints only the message."""
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            exc.ctx = None
            raise

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; usage errors raised in its body lose the context too."""
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            exc.ctx = None
            raise
