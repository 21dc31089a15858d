"""Run a snippet against chromapal._kernels in a child interpreter (shared by the hostile-argument tests).

A segfault or a sanitizer abort in the child fails the calling test instead of
killing pytest. Under ``make fuzz`` the child inherits the ASan/UBSan preload and
PYTHONPATH, so it loads the sanitized build of the extension.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

#: Seconds a child gets (the sanitized build is several times slower than -O3).
CHILD_TIMEOUT = 120

PRELUDE = """
import numpy as np
from chromapal import _kernels as K

ARGUMENT_ERRORS = (ValueError, TypeError, OverflowError, BufferError)

def rejects(fn, *args):
    try:
        fn(*args)
    except ARGUMENT_ERRORS:
        return
    raise AssertionError(f"{fn.__name__} accepted {[type(a).__name__ for a in args]}")

def unaligned(a):
    '''A copy of `a` whose data starts at an odd address (a bytes buffer sliced at offset 1).'''
    raw = bytearray(a.nbytes + 1)
    out = np.frombuffer(raw, a.dtype, count=a.size, offset=1).reshape(a.shape)
    out[...] = a
    assert out.ctypes.data % 8 and not out.flags.aligned
    return out
"""


def run_child(body: str) -> None:
    """Run `body` after PRELUDE in a fresh interpreter; fail with its output unless it exits 0 and prints 'ok'."""
    code = PRELUDE + textwrap.dedent(body) + "\nprint('ok')\n"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=CHILD_TIMEOUT, env=os.environ.copy()
    )
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), (
        f"child exited {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-6000:]}"
    )
