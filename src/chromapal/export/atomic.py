"""Write a file whole or not at all: into a temporary file beside it, then rename.

A writer that fails midway (disk full, an exception, Ctrl-C, kill -9) leaves no partial
file under the final name, and an earlier file of that name stays as it was. The rename
is atomic on POSIX file systems.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


def temporary_name(path: str | os.PathLike[str]) -> Path:
    """A hidden, unused-looking name in `path`'s folder that keeps its extension.

    ``out/palette.png`` -> ``out/.palette.png.1f2e3d4c.tmp.png``: writers that pick their
    format from the extension (Pillow, Matplotlib) still see ``.png``.
    """
    target = Path(path)
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp{target.suffix}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it to `path` if the block succeeds.

    The temporary file is created empty (mode 0666 less the umask, like a plain
    ``open``) so the block may open it or hand it to a library; if the block raises,
    the temporary file is removed and the exception propagates.

    Raises
    ------
    OSError
        If the folder is not writable, or the rename fails.
    """
    target = Path(path)
    temporary = temporary_name(target)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    os.close(fd)
    try:
        yield temporary
        with contextlib.suppress(OSError):
            os.chmod(temporary, os.stat(target).st_mode & 0o7777)  # keep a replaced file's mode
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` whole or not at all (see `atomic_path`)."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
