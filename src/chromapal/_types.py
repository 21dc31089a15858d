"""Array aliases used in signatures across the package."""

from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
UInt8Array = npt.NDArray[np.uint8]
AnyArray = npt.NDArray[Any]
