"""Colour-vision-deficiency simulation for terminal themes (Machado, Oliveira & Fernandes 2009).

The model: G. M. Machado, M. M. Oliveira and L. A. F. Fernandes, "A Physiologically-based
Model for Simulation of Color Vision Deficiency", IEEE TVCG 15(6), 2009. Its table of
matrices (one per severity) applies to linear-light sRGB; chromapal uses the rows for
severity 1.0 (full dichromacy).
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import ArrayLike

from ._types import FloatArray
from .colorspace import ciede2000, lab_from_linear, srgb_to_linear

#: Machado et al. (2009), severity 1.0, linear sRGB -> simulated linear sRGB.
MACHADO_2009: Final = {
    "protanopia": np.array(
        [
            [0.152286, 1.052583, -0.204868],
            [0.114503, 0.786281, 0.099216],
            [-0.003882, -0.048116, 1.051998],
        ]
    ),
    "deuteranopia": np.array(
        [
            [0.367322, 0.860646, -0.227968],
            [0.280085, 0.672501, 0.047413],
            [-0.011820, 0.042940, 0.968881],
        ]
    ),
}
#: The deficiencies a theme's red and green are checked under.
RED_GREEN_CVD: Final = tuple(MACHADO_2009)


def simulate_lab(rgb: ArrayLike, deficiency: str) -> FloatArray:
    """CIELAB of sRGB colours (``(..., 3)``, 0-255) as seen with `deficiency` (a `MACHADO_2009` key)."""
    linear = srgb_to_linear(np.asarray(rgb, dtype=np.float64))
    simulated = np.clip(linear @ MACHADO_2009[deficiency].T, 0.0, 1.0)
    return lab_from_linear(simulated)


def cvd_difference(a: ArrayLike, b: ArrayLike) -> float:
    """Smallest CIEDE2000 difference of two sRGB colours under protanopia and deuteranopia."""
    return min(
        float(ciede2000(simulate_lab(a, kind), simulate_lab(b, kind))) for kind in RED_GREEN_CVD
    )
