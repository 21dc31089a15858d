"""Silence what image decoders print by themselves (warnings, logging, C libraries on fd 2)."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_decoders() -> Iterator[None]:
    """Silence what decoders print by themselves while the block runs.

    Damaged files make Pillow warn and log, and libtiff write straight to file
    descriptor 2; a command-line tool wants only its own one-line error. Changes
    process-wide state (warning filters, logging, fd 2), so it is for the CLI only,
    not for threaded servers.
    """
    previous = logging.root.manager.disable
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.CRITICAL)
        try:
            with _stderr_fd_to_devnull():
                yield
        finally:
            logging.disable(previous)


@contextmanager
def _stderr_fd_to_devnull() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null (C libraries print there), then restore it."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no fd 2 to redirect
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
