"""Independent checks of a terminal theme's promises, written here from the published formulas.

Nothing is imported from chromapal: WCAG 2.x contrast (W3C, "relative luminance"),
CIELAB (CIE 15, D65 white of the sRGB matrix), CIEDE2000 (Sharma, Wu & Dalal 2005,
"The CIEDE2000 color-difference formula: implementation notes") and colour-vision
deficiency simulation (Machado, Oliveira & Fernandes 2009, "A Physiologically-based Model
for Simulation of Color Vision Deficiency", IEEE TVCG 15(6), Table: severity 1.0).
"""

from __future__ import annotations

import math

FG, TEXT, COMMENT, BRIGHT_DE, CVD_DE = 7.0, 4.5, 3.0, 5.0, 10.0

#: Machado et al. 2009, severity 1.0, applied to linear sRGB (copied from the paper's table).
MACHADO = {
    "protanopia": (
        (0.152286, 1.052583, -0.204868),
        (0.114503, 0.786281, 0.099216),
        (-0.003882, -0.048116, 1.051998),
    ),
    "deuteranopia": (
        (0.367322, 0.860646, -0.227968),
        (0.280085, 0.672501, 0.047413),
        (-0.011820, 0.042940, 0.968881),
    ),
}


def linear(c: int) -> float:
    """sRGB 8-bit value -> linear light (IEC 61966-2-1; WCAG's 0.03928 gives the same 8-bit)."""
    v = c / 255
    return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4


def luminance(rgb) -> float:
    """WCAG 2.x relative luminance."""
    r, g, b = (linear(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b) -> float:
    """WCAG 2.x contrast ratio."""
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def lab_from_linear(rgb) -> tuple[float, float, float]:
    """CIELAB (D65) of linear sRGB in [0, 1]."""
    r, g, b = rgb
    x = 0.4124564 * r + 0.3575761 * g + 0.1804375 * b
    y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b
    z = 0.0193339 * r + 0.1191920 * g + 0.9503041 * b
    xn, yn, zn = 0.9504559, 1.0, 1.0890578

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    fx, fy, fz = f(x / xn), f(y / yn), f(z / zn)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def lab(rgb) -> tuple[float, float, float]:
    """CIELAB of an 8-bit sRGB colour."""
    return lab_from_linear([linear(v) for v in rgb])


def ciede2000(lab1, lab2) -> float:
    """CIEDE2000 (kL = kC = kH = 1), following Sharma, Wu & Dalal (2005) step by step."""
    L1, a1, b1 = lab1
    L2, a2, b2 = lab2
    c_bar = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(c_bar**7 / (c_bar**7 + 25**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p = math.degrees(math.atan2(b1, a1p)) % 360 if c1p else 0.0
    h2p = math.degrees(math.atan2(b2, a2p)) % 360 if c2p else 0.0
    dL, dC = L2 - L1, c2p - c1p
    if c1p * c2p == 0:
        dh = 0.0
    elif abs(h2p - h1p) <= 180:
        dh = h2p - h1p
    else:
        dh = h2p - h1p - 360 if h2p > h1p else h2p - h1p + 360
    dH = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dh / 2))
    L_bar, C_bar = (L1 + L2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        h_bar = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        h_bar = (h1p + h2p) / 2
    else:
        h_bar = (h1p + h2p + 360) / 2 if h1p + h2p < 360 else (h1p + h2p - 360) / 2
    t = (
        1
        - 0.17 * math.cos(math.radians(h_bar - 30))
        + 0.24 * math.cos(math.radians(2 * h_bar))
        + 0.32 * math.cos(math.radians(3 * h_bar + 6))
        - 0.20 * math.cos(math.radians(4 * h_bar - 63))
    )
    d_theta = 30 * math.exp(-(((h_bar - 275) / 25) ** 2))
    rc = 2 * math.sqrt(C_bar**7 / (C_bar**7 + 25**7))
    sl = 1 + 0.015 * (L_bar - 50) ** 2 / math.sqrt(20 + (L_bar - 50) ** 2)
    sc = 1 + 0.045 * C_bar
    sh = 1 + 0.015 * C_bar * t
    rt = -math.sin(math.radians(2 * d_theta)) * rc
    return math.sqrt(
        (dL / sl) ** 2 + (dC / sc) ** 2 + (dH / sh) ** 2 + rt * (dC / sc) * (dH / sh)
    )


def delta_e(a, b) -> float:
    """CIEDE2000 of two 8-bit sRGB colours."""
    return ciede2000(lab(a), lab(b))


def simulated_lab(rgb, deficiency: str) -> tuple[float, float, float]:
    """CIELAB of `rgb` as seen with `deficiency` (Machado 2009 at full severity)."""
    lin = [linear(v) for v in rgb]
    out = [min(1.0, max(0.0, sum(m * c for m, c in zip(row, lin)))) for row in MACHADO[deficiency]]
    return lab_from_linear(out)


def cvd_delta_e(a, b) -> float:
    """Smallest CIEDE2000 between `a` and `b` under protanopia and deuteranopia."""
    return min(ciede2000(simulated_lab(a, d), simulated_lab(b, d)) for d in MACHADO)


WHITE_FLOOR = 3.0


def white_on_colours(theme, strict: bool) -> float:
    """What colour 15 on colours 1 and 4 must reach: 4.5:1 when strict or light; otherwise the
    most a background allows (colours with 4.5:1 on it, white over them), at least 3:1."""
    if strict or theme.light:
        return TEXT
    lowest = (luminance(theme.background) + 0.05) * TEXT - 0.05
    return max(WHITE_FLOOR, min(TEXT, 1.05 / (lowest + 0.05) / 1.035))


def violations(theme, strict: bool = False) -> list[str]:
    """Every broken promise of `theme` (empty when it is readable every way)."""
    bg, ansi, white = theme.background, theme.ansi, theme.ansi[15]
    out = []

    def need(value: float, least: float, what: str) -> None:
        if value < least:
            out.append(f"{what}: {value:.3f} < {least}")

    need(contrast(theme.foreground, bg), FG, "foreground on background")
    for i in [*range(1, 7), *range(9, 15)]:
        need(contrast(ansi[i], bg), TEXT, f"color{i} on background")
    for i in range(1, 7):
        need(contrast(bg, ansi[i]), TEXT, f"background text on color{i}")
        need(contrast(ansi[0], ansi[i]), TEXT, f"color0 text on color{i}")
    for i in (1, 4):
        need(contrast(white, ansi[i]), white_on_colours(theme, strict), f"color15 text on color{i}")
    need(contrast(ansi[8], bg), COMMENT, "color8 on background")
    for i in range(8):
        need(delta_e(ansi[i], ansi[i + 8]), BRIGHT_DE, f"color{i + 8} vs color{i} (dE2000)")
    for r, g in ((1, 2), (9, 10)):
        need(cvd_delta_e(ansi[r], ansi[g]), CVD_DE, f"color{r} vs color{g} colour-blind (dE2000)")
    return out
