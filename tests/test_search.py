"""Search: the CIELAB box holds every colour within the radius; results equal a brute-force scan."""

from __future__ import annotations

import numpy as np
import pytest

from chromapal.colorspace import ciede2000, lab_from_srgb
from chromapal.errors import InvalidColorError
from chromapal.search import search, search_box
from chromapal.store import PaletteStore, options_key

OPTIONS = options_key({"k": 3, "space": "oklab"})


def add(db: PaletteStore, source: str, colors: list[str], shares: list[float]) -> None:
    """Store a palette of hex colours directly."""
    rgb = [[int(h[i : i + 2], 16) for i in (1, 3, 5)] for h in colors]
    db.add_palette({"source": source, "colors": rgb, "shares": shares}, OPTIONS)


@pytest.fixture
def collection(tmp_path):
    """Five palettes with known colours: three pinks at growing distances, a blue and a grey."""
    with PaletteStore(tmp_path / "p.sqlite") as db:
        add(db, "exact.png", ["#c1a4a9", "#203040"], [0.6, 0.4])
        add(db, "near.png", ["#101010", "#c3a6aa"], [0.9, 0.1])
        add(db, "far.png", ["#b09098", "#ffffff"], [0.5, 0.5])
        add(db, "blue.png", ["#0000ff"], [1.0])
        add(db, "tiny.png", ["#c1a4a9", "#000000"], [0.01, 0.99])
        yield db


def test_finds_the_images_holding_a_near_colour_closest_first(collection):
    """Exact and near pinks come first, ranked by ΔE then share; blue and grey never appear."""
    matches = search(collection, "#c1a4a9", max_delta_e=10)

    assert [m.source for m in matches] == ["exact.png", "tiny.png", "near.png", "far.png"]
    assert [m.hex for m in matches] == ["#c1a4a9", "#c1a4a9", "#c3a6aa", "#b09098"]
    assert [m.rank for m in matches] == [1, 1, 2, 1]
    assert matches[0].delta_e == 0.0
    far = ciede2000(
        lab_from_srgb(np.array([193, 164, 169], np.uint8)),
        lab_from_srgb(np.array([176, 144, 152], np.uint8)),
    )
    assert matches[3].delta_e == pytest.approx(float(far))


def test_min_share_max_delta_e_and_limit_filter(collection):
    """Small shares, colours beyond the radius and results past the limit are left out."""
    assert [m.source for m in search(collection, "#c1a4a9", min_share=0.05)] == [
        "exact.png",
        "near.png",
        "far.png",
    ]
    assert [m.source for m in search(collection, "#c1a4a9", max_delta_e=2)] == [
        "exact.png",
        "tiny.png",
        "near.png",
    ]
    assert [m.source for m in search(collection, "#c1a4a9", limit=1)] == ["exact.png"]
    assert search(collection, "#00ff00") == []


def test_results_equal_a_brute_force_scan(tmp_path):
    """On 400 random palettes, search returns what exact ΔE over every stored colour returns."""
    rng = np.random.default_rng(7)
    colors = rng.integers(0, 256, (400, 3, 3))
    shares = rng.dirichlet(np.ones(3), 400)
    with PaletteStore(tmp_path / "p.sqlite") as db:
        for i in range(400):
            db.add_palette(
                {"source": f"{i}.png", "colors": colors[i].tolist(), "shares": shares[i].tolist()},
                OPTIONS,
            )
        for query in rng.integers(0, 256, (12, 3)):
            de = ciede2000(
                lab_from_srgb(query.astype(np.uint8)), lab_from_srgb(colors.astype(np.uint8))
            )
            de = np.where(shares >= 0.1, de, np.inf)
            best = de.min(axis=1)
            expected = [
                f"{i}.png" for i in sorted(np.flatnonzero(best <= 15), key=lambda i: best[i])
            ][:10]

            found = search(db, tuple(query), max_delta_e=15, min_share=0.1, limit=10)

            assert [m.source for m in found] == expected
            assert [m.delta_e for m in found] == pytest.approx(
                [best[int(s[:-4])] for s in expected]
            )


@pytest.mark.parametrize("radius", [2.0, 5.0, 10.0])
def test_box_holds_every_srgb_colour_within_the_radius(radius):
    """For random queries (a third saturated blues), every sRGB colour within ΔE00 is in the box."""
    rng = np.random.default_rng(int(radius))
    for i in range(40):
        q = (
            rng.integers(0, 256, 3)
            if i % 3
            else np.array([rng.integers(0, 120), rng.integers(0, 120), 230])
        )
        spread = int(12 * radius + 20)
        cand = np.clip(q + rng.integers(-spread, spread + 1, (4000, 3)), 0, 255).astype(np.uint8)
        lq, lc = lab_from_srgb(q.astype(np.uint8)), lab_from_srgb(cand)
        lo, hi = search_box(lq, radius)

        near = lc[ciede2000(lq, lc) <= radius]
        assert np.all((near >= lo) & (near <= hi)), (q, radius)


def test_box_holds_the_whole_blue_neighbourhood_that_once_leaked():
    """#2a3aa8 at ΔE 10: every sRGB colour within the radius (all of them, not a sample) is in the box.

    With the margin of other hues (0.15) 75 of its 777,867 neighbours fell up to 1.5 units outside.
    """
    q = np.array([42, 58, 168], dtype=np.uint8)
    r, g, b = np.meshgrid(np.arange(0, 140), np.arange(0, 160), np.arange(90, 256), indexing="ij")
    cand = np.stack([r.ravel(), g.ravel(), b.ravel()], axis=1).astype(np.uint8)
    lq, lc = lab_from_srgb(q), lab_from_srgb(cand)
    near = lc[ciede2000(lq, lc) <= 10]
    assert len(near) > 700_000  # the grid covers the neighbourhood
    lo, hi = search_box(lq, 10.0)
    assert np.all((near >= lo) & (near <= hi))


def test_bad_arguments_are_value_errors(collection):
    """A malformed colour or out-of-range option raises with the accepted values."""
    with pytest.raises(InvalidColorError, match="'#12' is not a colour"):
        search(collection, "#12")
    with pytest.raises(ValueError, match=r"max_delta_e must be positive \(got 0\)"):
        search(collection, "#ffffff", max_delta_e=0)
    with pytest.raises(ValueError, match=r"min_share must be between 0 and 1 \(got 2\)"):
        search(collection, "#ffffff", min_share=2)
    with pytest.raises(ValueError, match=r"limit must be at least 1 \(got 0\)"):
        search(collection, "#ffffff", limit=0)
