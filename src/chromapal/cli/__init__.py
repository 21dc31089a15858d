"""The ``chromapal`` command line: a thin layer that parses, calls the library, prints, translates errors.

One module per command group (`extract`, `pictures`, `pies`, `report`, `theme`, `batch`,
`collections`, `web`); `common`, `cleanup`, `output` and `progress` hold what they share
and import no command. `group.main` knows every command by name and imports its module
only when it runs, so ``chromapal --help`` imports nothing but click.
"""

from .group import main

__all__ = ["main"]
