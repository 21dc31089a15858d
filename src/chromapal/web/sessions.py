"""Short-lived, in-memory memory of uploaded images, so the page can re-cluster without re-uploading.

An entry holds what re-clustering needs, not the file: the colour histogram of the
whole image (`ColorCounts`, at most 32,768 rows) and a small preview array for the
recoloured picture. Entries live under random tokens, expire after `ttl` seconds
and are bounded in number (least recently used dropped first); nothing is written
to disk. The page asks for an entry (``keep=true``) when an image is uploaded;
API clients get one only when they ask, and ``chromapal serve --no-sessions`` turns
the store off.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Final

from .._types import UInt8Array
from ..palette import Palette
from ..sample import ColorCounts

#: Defaults: seconds an unused entry lives, entries kept at most, palettes remembered per entry.
SESSION_TTL: Final = 15 * 60.0
MAX_SESSIONS: Final = 16
MAX_PALETTES: Final = 64


@dataclass
class Entry:
    """One uploaded image, reduced to what re-clustering and previews need."""

    name: str
    counts: ColorCounts
    preview: UInt8Array  # (h, w, 3|4) uint8, longest side at most the preview size
    #: The image's exact colours, when kept (exact shares and error for later palettes).
    exact: ColorCounts | None = None
    palettes: OrderedDict[Hashable, Palette] = field(default_factory=OrderedDict)
    used: float = field(default_factory=time.monotonic)
    #: Held while a palette of this image is computed (and while `palette` and `remember`
    #: are called), so that the page's palette and preview requests for the same options
    #: cluster once, not twice at the same time.
    busy: threading.Lock = field(default_factory=threading.Lock)

    @property
    def nbytes(self) -> int:
        """Approximate memory held, in bytes."""
        held = [self.counts.colors, self.counts.counts, self.counts.lab, self.preview]
        if self.exact is not None:
            held += [self.exact.colors, self.exact.counts, self.exact.lab]
        return int(sum(a.nbytes for a in held if a is not None))

    def palette(self, key: Hashable) -> Palette | None:
        """Return the palette computed earlier with the clustering options `key`, if any."""
        return self.palettes.get(key)

    def remember(self, key: Hashable, palette: Palette) -> None:
        """Keep `palette` for the options `key` (at most `MAX_PALETTES`, least recent dropped)."""
        self.palettes[key] = palette
        while len(self.palettes) > MAX_PALETTES:
            self.palettes.popitem(last=False)


class SessionStore:
    """Thread-safe map of random tokens to `Entry`, bounded in count and age."""

    def __init__(self, *, ttl: float = SESSION_TTL, max_entries: int = MAX_SESSIONS) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._entries)

    @property
    def nbytes(self) -> int:
        """Memory held by all entries, approximately."""
        with self._lock:
            return sum(e.nbytes for e in self._entries.values())

    def add(self, entry: Entry) -> str:
        """Store `entry`; return its new token (URL-safe, 128 random bits)."""
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._expire()
            self._entries[token] = entry
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return token

    def get(self, token: str) -> Entry | None:
        """Return the entry for `token`, refreshed, or None if unknown or expired."""
        with self._lock:
            self._expire()
            entry = self._entries.get(token)
            if entry is not None:
                entry.used = time.monotonic()
                self._entries.move_to_end(token)
            return entry

    def discard(self, token: str) -> bool:
        """Forget `token` now; return whether it was there."""
        with self._lock:
            return self._entries.pop(token, None) is not None

    def _expire(self) -> None:
        now = time.monotonic()
        for token in [t for t, e in self._entries.items() if now - e.used > self.ttl]:
            del self._entries[token]
