"""Search curators use: several colours, facets, similar palettes, k and options filters.

Every ranking is checked against a brute-force scan over the stored palettes computed
here, on palettes generated in the test.
"""

from __future__ import annotations

import numpy as np
import pytest

from chromapal.colorspace import ciede2000, lab_from_srgb
from chromapal.errors import InvalidColorError
from chromapal.facets import FACET_NAMES, facet_of, facet_shares
from chromapal.search import search
from chromapal.search_like import UNITS, palette_distance, search_like, units
from chromapal.search_multi import ColorQuery, search_colors
from chromapal.store import PaletteFilter, PaletteStore, options_key

pytest.importorskip("scipy", reason="similar-palette search needs scipy (the search extra)")


def lab(rgb):
    if isinstance(rgb, str):
        rgb = [int(rgb[i : i + 2], 16) for i in (1, 3, 5)]
    return lab_from_srgb(np.asarray(rgb, np.uint8))


@pytest.fixture(scope="module")
def random_db(tmp_path_factory):
    """400 images, each stored at k = 3 and k = 5 (two palettes per image), plus near-copies."""
    rng = np.random.default_rng(11)
    path = tmp_path_factory.mktemp("db") / "p.sqlite"
    palettes = []
    with PaletteStore(path) as db:
        for i in range(400):
            for k in (3, 5):
                rgb = rng.integers(0, 256, (k, 3))
                if i % 40 == 0:  # a family of near-identical palettes for --like
                    rgb = np.clip(np.array([[200, 40, 40], [240, 230, 210], [30, 40, 90], [90, 90, 90], [10, 200, 10]])[:k]
                                  + rng.integers(-6, 7, (k, 3)), 0, 255)
                shares = np.sort(rng.dirichlet(np.ones(k)))[::-1]
                options = {"k": k} if k == 3 else {"k": k, "space": "lab"}
                image_id = db.add_palette(
                    {"source": f"img{i:03d}.png", "colors": rgb.tolist(), "shares": shares.tolist(), "k": k},
                    options_key(options),
                )
                palettes.append((image_id, f"img{i:03d}.png", k, rgb.astype(np.uint8), shares))
    db = PaletteStore(path, create=False)
    yield db, palettes
    db.close()


def brute_multi(palettes, queries, max_de):
    out = []
    for image_id, source, k, rgb, shares in palettes:
        total, ok = 0.0, True
        for color, weight, min_share in queries:
            de = ciede2000(lab(color), lab(rgb))
            de = np.where(shares >= min_share, de, np.inf)
            if de.min() > max_de:
                ok = False
                break
            total += weight * de.min()
        if ok:
            out.append((total / sum(q[1] for q in queries), image_id))
    return sorted(out)


def test_every_palette_of_an_image_is_kept_and_search_tells_them_apart(random_db):
    """An image stored with k = 3 and k = 5 has two palettes; results name k and options; -k filters."""
    db, palettes = random_db
    assert db.count("images") == 800
    hits = search(db, "#c83030", max_delta_e=20, limit=800)
    assert {m.k for m in hits} == {3, 5}
    assert all(m.to_dict()["options"] == ({"k": 3} if m.k == 3 else {"k": 5, "space": "lab"}) for m in hits)
    only5 = search(db, "#c83030", max_delta_e=20, limit=800, where=PaletteFilter(k=(5,)))
    assert [m.image_id for m in only5] == [m.image_id for m in hits if m.k == 5]
    lab_space = search(db, "#c83030", max_delta_e=20, limit=800,
                       where=PaletteFilter(options={"space": "lab"}, defaults={"space": "oklab"}))
    assert {m.k for m in lab_space} == {5}
    oklab = search(db, "#c83030", max_delta_e=20, limit=800,
                   where=PaletteFilter(options={"space": "oklab"}, defaults={"space": "oklab"}))
    assert {m.k for m in oklab} == {3}  # the default matches palettes that do not store it
    assert search(db, "#c83030", max_delta_e=20, where=PaletteFilter(k=(7,))) == []  # none stored
    assert search(db, "#c83030", max_delta_e=20, limit=800, where=PaletteFilter(k=(3, 5))) == hits  # all


def test_css_name_search_equals_its_hex(random_db):
    db, _ = random_db
    assert search(db, "navy", limit=50) == search(db, "#000080", limit=50)
    with pytest.raises(InvalidColorError):
        search(db, "navyish")


@pytest.mark.parametrize(
    "queries",
    [
        [("#c83030", 1.0, 0.0), ("#f0e6d2", 1.0, 0.0)],
        [("#c83030", 2.0, 0.2), ("#1e285a", 1.0, 0.0)],
        [("#c83030", 1.0, 0.0), ("#f0e6d2", 1.0, 0.1), ("#1e285a", 1.0, 0.0)],
    ],
)
def test_several_colours_equal_a_brute_force_scan(random_db, queries):
    db, palettes = random_db
    texts = [f"{c}:{s * 100:g}%*{w:g}" for c, w, s in queries]
    for max_de, limit in ((15, 5), (15, 50), (25, 20)):
        got = search_colors(db, texts, max_delta_e=max_de, limit=limit)
        want = brute_multi(palettes, queries, max_de)[:limit]
        assert [m.image_id for m in got] == [i for _, i in want]
        assert [m.distance for m in got] == pytest.approx([d for d, _ in want])


def test_colour_query_syntax():
    assert ColorQuery.parse("#c1a4a9:30%") == ColorQuery("#c1a4a9", 1.0, 0.3)
    assert ColorQuery.parse("navy*2") == ColorQuery("navy", 2.0, 0.0)
    assert ColorQuery.parse("red:0.1*0.5") == ColorQuery("red", 0.5, 0.1)
    for bad in ("nocolour", "red:lots", "red:150%", "red*0", "red*nan"):
        with pytest.raises(InvalidColorError):
            ColorQuery.parse(bad)


def test_facets_filter_and_rank_like_a_scan(random_db):
    db, palettes = random_db
    want = sorted(
        ((-facet_shares(rgb, shares).get("blue", 0.0), image_id) for image_id, _, _, rgb, shares in palettes
         if facet_shares(rgb, shares).get("blue", 0.0) >= 0.3),
    )[:10]
    got = search_colors(db, [], facets={"blue": 0.3}, limit=10)
    assert [m.facets["blue"] for m in got] == pytest.approx([-s for s, _ in want])
    both = search_colors(db, ["#c83030"], facets={"white": 0.1}, max_delta_e=20, limit=100)
    for m in both:
        _, _, _, rgb, shares = next(p for p in palettes if p[0] == m.image_id)
        assert facet_shares(rgb, shares).get("white", 0) >= 0.1
    with pytest.raises(ValueError, match="not a colour facet"):
        search_colors(db, [], facets={"sparkly": 0.1})


def test_facet_names_cover_the_basic_colours():
    """Each prototype is its own facet; everyday colours land where a curator expects."""
    assert len(FACET_NAMES) == 16
    assert facet_of([(0, 0, 0), (255, 255, 255), (255, 0, 0), (0, 0, 255), (0, 128, 0), (255, 255, 0),
                     (255, 165, 0), (128, 0, 128), (255, 192, 203), (139, 69, 19)]) == [
        "black", "white", "red", "blue", "green", "yellow", "orange", "purple", "pink", "brown"]


def test_units_add_up_and_the_distance_is_a_transport_cost():
    assert units([0.5, 0.3, 0.2]).sum() == UNITS
    assert units([1 / 3] * 3).tolist() in ([14, 13, 13], [13, 14, 13], [13, 13, 14])
    a = lab([[255, 0, 0], [0, 0, 255]])
    assert palette_distance(a, [0.5, 0.5], a, [0.5, 0.5]) == 0.0
    # Half the mass must move from red to blue: EMD = 0.5 * ΔE(red, blue).
    red_blue = float(ciede2000(a[0], a[1]))
    assert palette_distance(a, [1.0, 0.0], a, [0.5, 0.5]) == pytest.approx(0.5 * red_blue)
    # Symmetric, and independent of colour order.
    b = lab([[10, 200, 10], [250, 250, 250], [0, 0, 0]])
    assert palette_distance(a, [0.7, 0.3], b, [0.2, 0.5, 0.3]) == pytest.approx(
        palette_distance(b[::-1], [0.3, 0.5, 0.2], a, [0.7, 0.3]))


def test_like_equals_a_brute_force_scan_when_it_says_exact(random_db):
    """The near-copy family: the nearest palettes by EMD, as a full scan ranks them."""
    db, palettes = random_db
    for query_index in (0, 81):  # a family member (k = 3) and one of k = 5
        _, source, k, rgb, shares = palettes[query_index]
        got = search_like(db, rgb.tolist(), shares.tolist(), limit=5, exclude=source)
        want = sorted(
            (palette_distance(lab(rgb), shares, lab(r2), s2), i)
            for i, s, _, r2, s2 in palettes if s != source
        )[:5]
        if query_index == 0:  # near-copies exist: the search proves its answer
            assert all(m.exact for m in got)
        if all(m.exact for m in got):
            assert [m.image_id for m in got] == [i for _, i in want]
        assert [m.distance for m in got][:1] == pytest.approx([want[0][0]])
        assert all(m.source != source for m in got)
    # The family's palettes are found first from a family member.
    got = search_like(db, palettes[0][3].tolist(), palettes[0][4].tolist(), limit=3,
                      where=PaletteFilter(k=(3,)), exclude=palettes[0][1])
    assert got[0].exact and got[0].distance < 10 and {m.k for m in got} == {3}
