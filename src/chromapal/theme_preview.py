"""``chromapal theme --preview``: the scheme's pairings as coloured text, each with its contrast.

Every pairing a theme promises is shown as programs use it, with its WCAG contrast
ratio: the colours as text on the background, background-coloured, colour-0 and
colour-15 text on the colours (status bars, meters, labels), comments, the foreground.
"""

from __future__ import annotations

from rich.text import Text

from .theme import ANSI_NAMES, Theme
from .theme_fit import contrast_ratio

WIDTH = 78


def _line(base: str, *parts: tuple[str, str]) -> Text:
    text = Text(" ", style=base)
    for chunk, style in parts:
        text.append(chunk, style=style)
    text.append(" " * max(0, WIDTH - len(text)), style=base)
    return text


def pairings(theme: Theme) -> list[tuple[str, int | str, int | str, float]]:
    """Every promised pairing: (group, text colour, background colour, contrast ratio).

    Colours are ANSI indices or ``"background"``/``"foreground"``.
    """

    def rgb(key: int | str) -> tuple[int, int, int]:
        return theme.ansi[key] if isinstance(key, int) else getattr(theme, key)

    pairs: list[tuple[str, int | str, int | str]] = [("text", "foreground", "background")]
    pairs += [("on background", i, "background") for i in [*range(1, 7), *range(9, 15)]]
    pairs += [("comments", 8, "background")]
    pairs += [("text on colour", "background", i) for i in range(1, 7)]
    pairs += [("text on colour", 0, i) for i in range(1, 7)]
    pairs += [("text on colour", 15, i) for i in (1, 4)]
    return [(g, a, b, contrast_ratio(rgb(a), rgb(b))) for g, a, b in pairs]


def preview_lines(theme: Theme) -> list[Text]:
    """Render the scheme as coloured text: swatches, then every pairing with its ratio."""
    h = theme.hex()
    bg, fg = h["background"], h["foreground"]
    base = f"{fg} on {bg}"
    ratio = {(a, b): r for _, a, b, r in pairings(theme)}
    lines = [_line(base, (f"{theme.scheme_name}", f"bold {base}")), _line(base)]
    for label, offset in (("normal", 0), ("bright", 8)):
        parts = [(f"{label:<7}", base)]
        parts += [(f"{i + offset:^7}", f"{bg} on {h[f'color{i + offset}']}") for i in range(8)]
        lines.append(_line(base, *parts))
    lines += [_line(base), _line(base, ("colours on the background (at least 4.5:1)", base))]
    for offset in (0, 8):
        parts = [(f"{'bright' if offset else 'normal':<7}", base)]
        for i in range(1, 7):
            label = f"{ANSI_NAMES[i][:3]} {ratio[(i + offset, 'background')]:.1f}"
            parts.append((f"{label:<11}", f"{h[f'color{i + offset}']} on {bg}"))
        lines.append(_line(base, *parts))
    lines += [_line(base), _line(base, ("text on the colours: status bars, meters, labels", base))]
    for who, key in (("bg", "background"), ("0", 0), ("15", 15)):
        parts = [(f"{who:<7}", base)]
        for i in range(1, 7):
            if (key, i) not in ratio:
                parts.append((" " * 10, base))
                continue
            ink = bg if key == "background" else h[f"color{key}"]
            parts += [(f" {ratio[(key, i)]:4.1f}:1  ", f"{ink} on {h[f'color{i}']}"), (" ", base)]
        lines.append(_line(base, *parts))
    lines += [
        _line(base),
        _line(
            base,
            ("$ ", f"{h['color2']} on {bg}"),
            ("chromapal theme photo.jpg --preview", base),
            (" ", f"on {h['cursor']}"),
        ),
        _line(
            base,
            (f"# a comment in colour 8, {ratio[(8, 'background')]:.1f}:1", f"{h['color8']} on {bg}"),
        ),
        _line(base, (f"foreground on background, {ratio[('foreground', 'background')]:.1f}:1", base)),
    ]
    return lines
