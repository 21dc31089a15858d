"""chromapal.sample: opaque pixels, exact and histogram colour counts, both code paths, coarsen."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra.numpy import arrays

from chromapal import sample
from chromapal.sample import ColorCounts, coarsen, color_counts, opaque_pixels

#: Difference allowed between float means computed by different summation orders.
MEAN_TOLERANCE = 1e-9

RED, GREEN, BLUE, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 255), (0, 0, 0)


@pytest.fixture(params=["compiled", "numpy"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test through the compiled kernels, then through the NumPy fallback."""
    if request.param == "compiled" and sample.KERNELS is None:
        pytest.skip("chromapal._kernels is not built")
    if request.param == "numpy":
        monkeypatch.setattr(sample, "KERNELS", None)
    return request.param


def as_dict(counts: ColorCounts) -> dict[tuple[int, ...], int]:
    """Exact counts as {colour: pixels}."""
    assert counts.exact
    return {tuple(int(v) for v in c): int(n) for c, n in zip(counts.colors, counts.counts, strict=True)}


def sorted_rows(counts: ColorCounts) -> tuple[np.ndarray, np.ndarray]:
    """Colours and counts in lexicographic colour order."""
    order = np.lexsort(counts.colors.T[::-1])
    return counts.colors[order], counts.counts[order]


def many_colours(n: int = 4000, seed: int = 0, alpha: bool = False) -> np.ndarray:
    """Return an (n, 1, 3|4) image of random colours: far more occupied cells than EXACT_CELLS."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 1, 4 if alpha else 3), dtype=np.uint8)


def brute_force_cells(pixels: np.ndarray, bits: int) -> dict[tuple[int, ...], tuple[np.ndarray, int]]:
    """Mean colour and count of each occupied histogram cell, by a plain Python loop."""
    cells: dict[tuple[int, ...], list[np.ndarray]] = {}
    for p in pixels.reshape(-1, 3):
        cells.setdefault(tuple(int(v) >> (8 - bits) for v in p), []).append(p.astype(float))
    return {cell: (np.mean(ps, axis=0), len(ps)) for cell, ps in cells.items()}


# -- opaque_pixels -------------------------------------------------------------------------


def test_opaque_pixels_of_rgb_is_a_view() -> None:
    """A 3-channel image is all opaque and comes back reshaped without a copy."""
    image = np.zeros((4, 5, 3), np.uint8)

    out = opaque_pixels(image)

    assert out.shape == (20, 3) and np.shares_memory(out, image)


def test_opaque_pixels_drops_alpha_below_threshold() -> None:
    """Pixels with alpha below the threshold are dropped; alpha equal to it is kept."""
    image = np.array([[[1, 1, 1, 0], [2, 2, 2, 127], [3, 3, 3, 128], [4, 4, 4, 255]]], np.uint8)

    assert opaque_pixels(image).tolist() == [[3, 3, 3], [4, 4, 4]]
    assert opaque_pixels(image, alpha_threshold=0).tolist() == [[1, 1, 1], [2, 2, 2], [3, 3, 3], [4, 4, 4]]


# -- exact path ----------------------------------------------------------------------------


def test_few_colours_are_counted_exactly(path: str) -> None:
    """Three flat colours give exactly those colours and their pixel counts."""
    image = np.zeros((10, 10, 3), np.uint8)
    image[:5] = RED
    image[5:8] = GREEN
    image[8:] = (17, 130, 201)

    counts = color_counts(image)

    assert as_dict(counts) == {RED: 50, GREEN: 30, (17, 130, 201): 20}
    assert counts.total == 100 and counts.counts.dtype == np.int64


def test_colours_sharing_a_cell_stay_apart_on_the_exact_path(path: str) -> None:
    """Colours one code apart (same histogram cell) are still counted separately."""
    image = np.array([[[8, 8, 8], [9, 8, 8], [8, 9, 8], [8, 8, 9], [15, 15, 15], [8, 8, 8]]], np.uint8)

    assert as_dict(color_counts(image)) == {(8, 8, 8): 2, (9, 8, 8): 1, (8, 9, 8): 1, (8, 8, 9): 1, (15, 15, 15): 1}


def test_exact_counts_of_every_channel_extreme(path: str) -> None:
    """The 8 corners of the RGB cube (0 and 255 per channel) are rebuilt exactly from their cells."""
    corners = np.array([[r, g, b] for r in (0, 255) for g in (0, 255) for b in (0, 255)], np.uint8)
    image = np.repeat(corners, np.arange(1, 9), axis=0)[:, None, :]

    assert as_dict(color_counts(image)) == {tuple(int(v) for v in c): i + 1 for i, c in enumerate(corners)}


@pytest.mark.parametrize("bits", [1, 3, 5, 6, 8])
def test_exact_path_at_any_bit_depth(path: str, bits: int) -> None:
    """With few colours, any histogram depth gives the same exact counts."""
    rng = np.random.default_rng(bits)
    palette = rng.integers(0, 256, size=(40, 3), dtype=np.uint8)
    image = palette[rng.integers(0, 40, size=500)][:, None, :]
    expected: dict[tuple[int, ...], int] = {}
    for p in image.reshape(-1, 3):
        key = tuple(int(v) for v in p)
        expected[key] = expected.get(key, 0) + 1

    assert as_dict(color_counts(image, bits=bits)) == expected


# -- histogram path ------------------------------------------------------------------------


def test_many_colours_give_cell_means_and_counts(path: str) -> None:
    """Past EXACT_CELLS occupied cells, each row is a cell's mean colour and pixel count."""
    image = many_colours()

    counts = color_counts(image)

    assert not counts.exact
    assert counts.total == image.shape[0] * image.shape[1]
    expected = brute_force_cells(image, sample.BITS)
    assert len(counts.counts) == len(expected)
    for color, n in zip(counts.colors, counts.counts, strict=True):
        mean, count = expected[tuple(int(v) >> (8 - sample.BITS) for v in color)]
        assert n == count
        np.testing.assert_allclose(color, mean, rtol=0, atol=MEAN_TOLERANCE)


def test_histogram_keeps_the_total_and_the_mean_colour(path: str) -> None:
    """The count-weighted mean of the rows is the mean colour of the image."""
    image = many_colours(seed=5)

    counts = color_counts(image)

    np.testing.assert_allclose(
        counts.counts @ counts.colors / counts.total, image.reshape(-1, 3).mean(axis=0), atol=MEAN_TOLERANCE
    )


def test_exact_cells_switches_between_paths(path: str) -> None:
    """`exact_cells` decides the path: the same image is exact above the cell count, binned below."""
    image = many_colours(300, seed=2)
    cells = len(brute_force_cells(image, sample.BITS))

    assert color_counts(image, exact_cells=cells).exact
    assert not color_counts(image, exact_cells=cells - 1).exact


# -- alpha ---------------------------------------------------------------------------------


def test_transparent_pixels_are_not_counted_as_black(path: str) -> None:
    """Fully transparent pixels (RGB 0 or not) are left out, and never turn up as black."""
    image = np.zeros((4, 4, 4), np.uint8)  # transparent black everywhere
    image[0, :2] = (*RED, 255)
    image[1, 0] = (*GREEN, 200)
    image[2, 0] = (*BLUE, 0)  # transparent blue

    counts = color_counts(image)

    assert as_dict(counts) == {RED: 2, GREEN: 1}


def test_alpha_threshold_is_honoured(path: str) -> None:
    """Alpha equal to the threshold counts, one below does not, for any threshold."""
    image = np.array([[[*RED, 99], [*GREEN, 100], [*BLUE, 255], [*BLACK, 101]]], np.uint8)

    assert as_dict(color_counts(image, alpha_threshold=100)) == {GREEN: 1, BLUE: 1, BLACK: 1}
    assert as_dict(color_counts(image, alpha_threshold=0)) == {RED: 1, GREEN: 1, BLUE: 1, BLACK: 1}
    assert as_dict(color_counts(image, alpha_threshold=255)) == {BLUE: 1}


def test_alpha_on_the_histogram_path(path: str) -> None:
    """On the histogram path too, only opaque pixels are counted."""
    image = many_colours(4000, seed=3, alpha=True)
    opaque = image[image[..., 3] >= 128][:, :3]

    counts = color_counts(image)

    assert not counts.exact and counts.total == len(opaque)
    np.testing.assert_allclose(counts.counts @ counts.colors / counts.total, opaque.mean(axis=0), atol=MEAN_TOLERANCE)


def test_fully_transparent_image_has_no_colours(path: str) -> None:
    """An image with no opaque pixel gives empty colours and counts, not an error."""
    counts = color_counts(np.zeros((3, 3, 4), np.uint8))

    assert counts.colors.shape == (0, 3) and len(counts.counts) == 0 and counts.total == 0


def test_flat_pixel_list_is_accepted(path: str) -> None:
    """An (N, 3) pixel list counts like the same pixels as an image."""
    image = many_colours(500, seed=4)

    a, b = sorted_rows(color_counts(image)), sorted_rows(color_counts(image.reshape(-1, 3)))

    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_input_is_not_modified(path: str) -> None:
    """color_counts leaves its input as it was."""
    image = many_colours(500, seed=6, alpha=True)
    before = image.copy()

    color_counts(image)

    np.testing.assert_array_equal(image, before)


# -- compiled path == NumPy path -------------------------------------------------------------


def assert_same_counts(image: np.ndarray, monkeypatch: pytest.MonkeyPatch, **options: int) -> None:
    """Compiled and NumPy `color_counts` give the same rows (after sorting) and the same `exact`."""
    compiled = color_counts(image, **options)
    with monkeypatch.context() as m:
        m.setattr(sample, "KERNELS", None)
        reference = color_counts(image, **options)
    assert compiled.exact == reference.exact
    (c1, n1), (c2, n2) = sorted_rows(compiled), sorted_rows(reference)
    np.testing.assert_array_equal(n1, n2)
    np.testing.assert_allclose(c1, c2, rtol=0, atol=MEAN_TOLERANCE)


@pytest.mark.skipif(sample.KERNELS is None, reason="chromapal._kernels is not built")
@pytest.mark.parametrize("alpha", [False, True])
@pytest.mark.parametrize("n", [1, 50, 5000])
@pytest.mark.parametrize("bits", [4, 5, 6])
def test_compiled_counts_equal_numpy_counts(monkeypatch: pytest.MonkeyPatch, alpha: bool, n: int, bits: int) -> None:
    """The compiled histogram gives the NumPy path's colours and counts, exact or binned."""
    assert_same_counts(many_colours(n, seed=n + bits, alpha=alpha), monkeypatch, bits=bits)


@pytest.mark.skipif(sample.KERNELS is None, reason="chromapal._kernels is not built")
@settings(max_examples=60, deadline=None)
@given(
    image=arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12), st.sampled_from([3, 4]))),
    threshold=st.integers(0, 255),
    exact_cells=st.integers(0, 300),
)
def test_compiled_counts_equal_numpy_counts_on_any_image(image: np.ndarray, threshold: int, exact_cells: int) -> None:
    """On arbitrary small images and options, both paths agree."""
    with pytest.MonkeyPatch.context() as m:
        assert_same_counts(image, m, alpha_threshold=threshold, exact_cells=exact_cells)


# -- coarsen -------------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_coarsen_keeps_total_and_weighted_mean(bits: int) -> None:
    """Coarsening merges cells but keeps the pixel total and the count-weighted mean colour."""
    fine = color_counts(many_colours(6000, seed=7))

    coarse = coarsen(fine, bits)

    assert not coarse.exact and coarse.total == fine.total
    assert len(coarse.counts) <= min(len(fine.counts), 1 << (3 * bits))
    np.testing.assert_allclose(
        coarse.counts @ coarse.colors / coarse.total, fine.counts @ fine.colors / fine.total, atol=MEAN_TOLERANCE
    )


def test_coarsen_rows_are_means_of_their_coarse_cells() -> None:
    """Each coarse row is the count-weighted mean of the fine rows in its coarse cell."""
    fine = color_counts(many_colours(3000, seed=8))
    bits = 3

    coarse = coarsen(fine, bits)

    cell = (np.floor(fine.colors).astype(int) >> (8 - bits)) @ np.array([1 << (2 * bits), 1 << bits, 1])
    for color, n in zip(coarse.colors, coarse.counts, strict=True):
        key = (np.floor(color).astype(int) >> (8 - bits)) @ np.array([1 << (2 * bits), 1 << bits, 1])
        members = cell == key
        assert n == fine.counts[members].sum()
        np.testing.assert_allclose(color, fine.counts[members] @ fine.colors[members] / n, rtol=0, atol=MEAN_TOLERANCE)


def test_coarsen_returns_exact_counts_unchanged() -> None:
    """Exact colour counts are few by construction and come back as they are."""
    exact = color_counts(np.array([[RED, GREEN, GREEN]], np.uint8))

    assert coarsen(exact, 2) is exact
