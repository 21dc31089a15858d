"""A stand-in "peer" for the shared harness that only decodes the file with Pillow.

``peers.py --py pillow_decode:decode`` times Pillow's plain full decode in the same
process and the same way as every peer, so chromapal's time can be compared with it
image by image. It does not convert the image to RGB (that copy is not decoding). Its
"palette" is one placeholder colour: its quality is meaningless.
"""

from __future__ import annotations

from PIL import Image


def decode(path: str, k: int) -> list[tuple[int, int, int]]:
    """Decode `path` fully (nothing else: no conversion); return a one-colour placeholder palette."""
    with Image.open(path) as im:
        im.load()
    return [(0, 0, 0)]
