"""A 16-colour terminal scheme from an image's palette, readable every way programs use it.

Where the colours come from:

* the background is the image's darkest dominant colour (lightest for ``light``): a
  palette colour with at least `DOMINANT_SHARE` of the pixels, hue and chroma kept,
  lightness moved only as far as the rules below need;
* colours 1-6 (red ... cyan) are, each, the palette colour nearest in hue to the slot,
  turned at most `HUE_TOLERANCE` degrees toward the slot's hue (a red slot stays red,
  even for an image without red); 9-14 are the same hues, lighter (darker in light
  schemes); greys 0, 7, 8 and the foreground take the background's hue, faintly.

What holds, checked on the final 8-bit colours (WCAG 2 contrast ratios):

* foreground on background at least 7:1 (`FG_CONTRAST`);
* colours 1-6 and 9-14 on the background at least 4.5:1 (`TEXT_CONTRAST`), and
  background-coloured and colour-0 text on colours 1-6 at least 4.5:1 (status bars,
  meters); colour 15 (white) text on colours 1 and 4 at least 4.5:1 (see below);
* colour 8 (comments) on the background at least 3:1, the cursor too;
* each bright colour differs from its normal one by CIEDE2000 at least `BRIGHT_DELTA_E`;
* red and green (1, 2 and 9, 10) differ by CIEDE2000 at least `CVD_DELTA_E` when seen
  with protanopia or deuteranopia (`chromapal.theme_cvd`): hues are turned, red toward
  orange and green toward teal (and, in dark schemes, green made lighter) until they do.

What gives way, in this order (`chromapal.theme_background` has the windows):

* white on red and blue, in dark schemes. 4.5:1 from the background to colour 1 and
  4.5:1 from colour 1 to white need 20.25:1 between background and white, a background
  of luminance at most 0.00185 (L* 1.7, black with a tint) where the backgrounds of
  different images can hardly differ. So the background keeps the image's darkest
  dominant colour up to luminance `WALLPAPER_BG_MAX` (L* 18.1), and white on red and
  blue gets the most contrast that background allows: 4.5:1 when the image is dark
  enough, never less than `WALLPAPER_WHITE_CONTRAST` (3:1, WCAG's bound for large
  text). ``strict=True`` keeps 4.5:1 for white: the background is then at most
  `DARK_BG_MAX` (L* 1.1);
* distinct backgrounds. A darkest dominant colour lighter than the window is darkened
  to it, hue and chroma kept: two images whose darkest dominant colours differ mostly in
  lightness beyond the window can get backgrounds closer than CIEDE2000 3. With
  ``strict`` and in light schemes (at least `LIGHT_BG_MIN`, L* 99.2, which colour-0 text
  on colours with 4.5:1 on the background needs) the window is so narrow that most
  images' backgrounds are that close.

Every other rule always holds.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Final

import numpy as np

from ._types import FloatArray
from .palette import Palette, to_hex
from .theme_background import (
    LIGHT_BLACK_MAX,
    WALLPAPER_WHITE_CONTRAST,
    WHITE_SLACK,
    background_source,
    dark_background,
    light_background,
)
from .theme_cvd import cvd_difference
from .theme_fit import (
    RGB,
    contrast_ratio,
    darker_than,
    delta_e,
    fit_or_extreme,
    lch,
    lighter_than,
    luminance,
)

__all__ = ["Theme", "make_theme", "contrast_ratio", "background_source", "ANSI_NAMES", "SLOT_HUES"]

FG_CONTRAST: Final = 7.0
TEXT_CONTRAST: Final = 4.5
COMMENT_CONTRAST: Final = 3.0
BRIGHT_DELTA_E: Final = 5.0
CVD_DELTA_E: Final = 10.0
#: ANSI names of slots 0-7; slots 8-15 are their bright variants.
ANSI_NAMES: Final = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
#: Oklab hue (degrees) of each chromatic slot: the hue of the sRGB primary or secondary.
SLOT_HUES: Final = {1: 29.2, 2: 142.5, 3: 109.8, 4: 264.1, 5: 328.4, 6: 194.8}
#: Largest hue difference (degrees) kept from the palette colour a slot is made from.
HUE_TOLERANCE: Final = 10.0
#: Largest further turn (degrees) of red toward orange and green toward teal for colour-blind
#: readers.
CVD_TURN: Final = 30.0
#: Oklab chroma: below CHROMATIC a palette colour is grey; ANSI colours get at least MIN_CHROMA.
CHROMATIC: Final = 0.03
MIN_CHROMA: Final = 0.11
WHITE: Final = (255, 255, 255)


@dataclass(frozen=True)
class Scheme:
    """Oklab lightness targets of one scheme kind (dark or light)."""

    foreground: float
    ansi: tuple[float, float]  # range the chromatic slots' lightness target is clamped into
    bright: float  # lightness added for the bright variants (negative: darker)
    grey7: float
    grey8: float


DARK: Final = Scheme(0.93, (0.62, 0.74), 0.08, 0.84, 0.62)
LIGHT: Final = Scheme(0.28, (0.45, 0.60), -0.09, 0.90, 0.56)


def _clean_name(name: str) -> str:
    """A scheme name on one line, without control characters."""
    return re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+", " ", name).strip() or "chromapal"


@dataclass(frozen=True)
class Theme:
    """A terminal colour scheme: background, foreground, cursor and the 16 ANSI colours (sRGB).

    `name` is the image's name (control characters removed); `scheme_name` adds
    ``dark`` or ``light``, so both schemes of one image can be installed side by side.
    """

    background: RGB
    foreground: RGB
    cursor: RGB
    ansi: tuple[RGB, ...]  # 16 colours: 0-7 normal, 8-15 bright
    light: bool = False
    name: str = "chromapal"
    source: str | None = None  # the image's path, for tools that show the wallpaper (pywal)

    def __post_init__(self) -> None:
        if len(self.ansi) != 16:
            raise ValueError(f"a theme has 16 ANSI colours (got {len(self.ansi)})")
        object.__setattr__(self, "name", _clean_name(self.name))

    @property
    def kind(self) -> str:
        """``"light"`` or ``"dark"``."""
        return "light" if self.light else "dark"

    @property
    def scheme_name(self) -> str:
        """The name terminals list the scheme under: ``"<name> dark"`` or ``"<name> light"``."""
        return f"{self.name} {self.kind}"

    def hex(self) -> dict[str, str]:
        """``{"background", "foreground", "cursor", "color0", ..., "color15"}`` as ``#rrggbb``."""
        out = {
            "background": to_hex(self.background),
            "foreground": to_hex(self.foreground),
            "cursor": to_hex(self.cursor),
        }
        out.update({f"color{i}": to_hex(c) for i, c in enumerate(self.ansi)})
        return out


def _hue_diff(h: FloatArray | float, target: float) -> FloatArray:
    return (np.asarray(h) - target + 180) % 360 - 180


def slot_color(lch_: FloatArray, shares: FloatArray, target: float) -> tuple[float, float, float]:
    """Return the OkLCh of a slot: the palette colour nearest in hue, turned toward `target`.

    A colour within `HUE_TOLERANCE` of `target` keeps its hue; a farther one lands inside
    the tolerance, the farther the nearer `target` (so images without such a colour still
    get different slots). Chroma is at least `MIN_CHROMA`, more for more colourful images.
    Without any chromatic colour (a grey image) the slot is `target` itself at `MIN_CHROMA`.
    """
    chromatic = lch_[:, 1] >= CHROMATIC
    if not chromatic.any():
        return float(np.average(lch_[:, 0], weights=shares)), MIN_CHROMA, target
    diff = np.abs(_hue_diff(lch_[:, 2], target))
    # Nearest hue first; among near ties (within 5 degrees) the larger share.
    score = np.where(chromatic, np.round(diff / 5) - shares, np.inf)
    L, C, h = lch_[int(np.argmin(score))]
    off = float(_hue_diff(h, target))
    if abs(off) > HUE_TOLERANCE:  # 10 degrees off lands at 10; 180 degrees off at 0
        off = np.sign(off) * HUE_TOLERANCE * (180 - abs(off)) / (180 - HUE_TOLERANCE)
    h = target + off
    return float(L), max(float(C), MIN_CHROMA), h % 360


@dataclass(frozen=True)
class _Windows:
    """Luminance windows of one scheme, from its background and colour 0."""

    normal: tuple[float, float]  # colours 2, 3, 5, 6
    under_white: tuple[float, float]  # colours 1, 4 (white text on them)
    bright: tuple[float, float]
    comment: tuple[float, float]
    foreground: tuple[float, float]


def _windows(bg: RGB, black: RGB, light: bool, white_contrast: float) -> _Windows:
    yb, y0 = luminance(bg), luminance(black)
    white_max = darker_than(1.0, white_contrast)
    if light:
        on_bg = darker_than(yb, TEXT_CONTRAST)
        normal = (lighter_than(y0, TEXT_CONTRAST), min(on_bg, white_max))
        return _Windows(
            normal,
            normal,
            (0.0, on_bg),
            (0.0, darker_than(yb, COMMENT_CONTRAST)),
            (0.0, darker_than(yb, FG_CONTRAST)),
        )
    lo = lighter_than(max(yb, y0), TEXT_CONTRAST)
    return _Windows(
        (lo, 1.0),
        (lo, white_max),
        (lighter_than(yb, TEXT_CONTRAST), 1.0),
        (lighter_than(yb, COMMENT_CONTRAST), 1.0),
        (lighter_than(yb, FG_CONTRAST), 1.0),
    )


def _distinct(normal: RGB, target: tuple[float, float, float], step: float, window: tuple[float, float]) -> RGB:
    """The bright form of `normal`: `target`, moved `step` in lightness until it differs enough."""
    L, C, h = target
    color = fit_or_extreme((L, C, h), *window)
    for _ in range(12):
        if delta_e(color, normal) >= BRIGHT_DELTA_E * 1.02:
            break
        L = float(np.clip(L + step, 0.0, 1.0))
        color = fit_or_extreme((L, C, h), *window)
    return color


def _red_green(
    targets: dict[int, tuple[float, float, float]],
    windows: dict[int, tuple[float, float]],
    lifts: tuple[float, ...],
    pair: tuple[int, int],
    normals: tuple[RGB, RGB] | None = None,
) -> tuple[RGB, RGB]:
    """Colours for a red and a green slot that colour-blind readers can tell apart.

    Tries, in order of the least change: red turned toward orange, green toward teal,
    green's lightness moved by one of `lifts`, both more saturated; for bright slots (`normals` given) each
    must also differ from its normal colour by `BRIGHT_DELTA_E`. The best pair if none
    reaches `CVD_DELTA_E`.
    """
    red, green = pair
    (rL, rC, rh), (gL, gC, gh) = targets[red], targets[green]
    turns = np.arange(0.0, CVD_TURN + 0.1, CVD_TURN / 4)
    options = sorted(
        itertools.product(turns, turns, lifts, (1.0, 1.6, 2.4)),
        key=lambda o: (o[0] + o[1] + 100 * abs(o[2]) + 20 * (o[3] - 1), o[1]),
    )
    best: tuple[float, RGB, RGB] | None = None
    for dr, dg, up, more in options:
        r = fit_or_extreme((rL, rC * more, (rh + dr) % 360), *windows[red])
        g = fit_or_extreme((float(np.clip(gL + up, 0.0, 0.88)), gC * more, (gh + dg) % 360), *windows[green])
        diff = cvd_difference(r, g)
        if normals is not None:
            apart = min(delta_e(r, normals[0]), delta_e(g, normals[1]))
            diff = min(diff, apart * CVD_DELTA_E / BRIGHT_DELTA_E)
        if diff >= CVD_DELTA_E * 1.02:
            return r, g
        if best is None or diff > best[0]:
            best = (diff, r, g)
    assert best is not None
    return best[1], best[2]


def white_contrast(background: RGB) -> float:
    """The contrast white text on colours 1 and 4 keeps on a dark `background` (non-strict).

    The most that colours with 4.5:1 on `background` leave for white (less `WHITE_SLACK`,
    room for 8-bit colours between the two bounds), at most 4.5:1.
    """
    lowest = lighter_than(luminance(background), TEXT_CONTRAST)
    return min(TEXT_CONTRAST, 1.05 / (lowest + 0.05) / WHITE_SLACK)


def make_theme(palette: Palette, *, light: bool = False, name: str = "chromapal", strict: bool = False) -> Theme:
    """Derive a readable 16-colour terminal scheme from `palette` (see the module doc).

    Parameters
    ----------
    palette : Palette
        Any palette with at least one colour (one grey is enough).
    light : bool
        A light background with dark text instead of the default dark scheme.
    name : str
        Scheme name written into the target files (``dark`` or ``light`` is added).
    strict : bool
        Keep white (colour 15) text on red and blue at 4.5:1 for every image, which needs
        a near-black dark background. Default: as much as the image's background allows,
        at least 3:1, the background keeping the image's darkness (see the module doc).

    Raises
    ------
    ValueError
        If `palette` is empty.
    """
    if len(palette) == 0:
        raise ValueError("cannot make a theme from an empty palette")
    scheme = LIGHT if light else DARK
    lch_ = lch(palette.colors)
    shares = np.asarray(palette.proportions, dtype=np.float64)
    source = background_source(lch_, shares, light=light)
    Lb, Cb, hb = (float(v) for v in lch_[source])
    color = tuple(int(v) for v in palette.colors[source])
    tint = min(Cb, 0.02)
    if light:
        background = light_background(color)
        Ld, Cd, hd = lch_[int(np.argmin(lch_[:, 0]))]
        black = fit_or_extreme((0.0, Cd, hd), 0.0, LIGHT_BLACK_MAX)
    else:
        background = black = dark_background(color, strict=strict)
    white = TEXT_CONTRAST if strict or light else max(WALLPAPER_WHITE_CONTRAST, white_contrast(background))
    w = _windows(background, black, light, white)
    foreground = fit_or_extreme((scheme.foreground, tint, hb), *w.foreground)
    ansi: list[RGB] = [black] + [WHITE] * 15
    ansi[8] = _distinct(black, (scheme.grey8, tint, hb), -0.04 if light else 0.04, w.comment)
    grey7 = (scheme.grey7, tint, hb)
    ansi[7] = _distinct(WHITE, grey7, -0.04, (0.0, 1.0) if light else w.normal)
    targets: dict[int, tuple[float, float, float]] = {}
    windows: dict[int, tuple[float, float]] = {}
    lo, hi = scheme.ansi
    for slot, hue in SLOT_HUES.items():
        L, C, h = slot_color(lch_, shares, hue)
        if light:  # one lightness for all six: more colourful images get more colourful slots
            C = max(C, MIN_CHROMA + float(lch_[:, 1].max()) / 2)
        L = lo + (hi - lo) * float(np.clip(L, 0.0, 1.0))  # the lightness order kept
        targets[slot] = (L, C, h)
        targets[slot + 8] = (float(np.clip(L + scheme.bright, 0, 1)), C * 1.1, h)
        windows[slot] = w.under_white if slot in (1, 4) else w.normal
        windows[slot + 8] = w.bright
    for slot in (3, 4, 5, 6, 11, 12, 13, 14):
        ansi[slot] = fit_or_extreme(targets[slot], *windows[slot])
    lifts = (0.0,) if light else (0.0, 0.06, 0.12)
    ansi[1], ansi[2] = _red_green(targets, windows, lifts, (1, 2))
    bright_lifts = (0.0, -0.06, -0.12, 0.06) if light else (0.0, 0.06, 0.12, 0.18, -0.06)
    ansi[9], ansi[10] = _red_green(targets, windows, bright_lifts, (9, 10), (ansi[1], ansi[2]))
    step = scheme.bright / 2
    for slot in range(11, 15):
        if delta_e(ansi[slot], ansi[slot - 8]) < BRIGHT_DELTA_E * 1.02:
            ansi[slot] = _distinct(ansi[slot - 8], targets[slot], step, windows[slot])
    best = int(np.argmax(np.where(lch_[:, 1] >= CHROMATIC, lch_[:, 1], -1)))
    cursor = foreground
    if lch_[best, 1] >= CHROMATIC:
        L, C, h = lch_[best]
        cursor = fit_or_extreme((float(np.clip(L, lo, hi)), C, h), *w.comment)
    return Theme(background, foreground, cursor, tuple(ansi), light=light, name=name, source=palette.source)
