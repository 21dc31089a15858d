"""The collection view of ``chromapal serve --db``: its API and the page in headless Chromium.

The collection is built here: local files and IIIF canvases of the test IIIF server
(`iiif_server.IIIFServer`, the reference implementation), each batched at k = 2 and 3.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
pytest.importorskip("scipy")
pytest.importorskip("iiif", reason="the IIIF reference server (pip install iiif) runs these tests")
httpx = pytest.importorskip("httpx")

from conftest import needs_chromium  # noqa: E402
from iiif_server import IIIFServer  # noqa: E402

from chromapal.batch import BatchOptions, run_batch  # noqa: E402
from chromapal.sources import expand_batch_inputs  # noqa: E402
from chromapal.store import PaletteStore  # noqa: E402
from chromapal.web import Settings, create_app  # noqa: E402
from chromapal.web.server import serve_in_thread  # noqa: E402

RED, BLUE, GREEN, YELLOW, NAVY = (200, 30, 40), (30, 60, 200), (40, 160, 60), (230, 200, 20), (20, 30, 90)


def image(path: Path, top, bottom, size=(120, 90)) -> None:
    arr = np.zeros((size[1], size[0], 3), np.uint8)
    arr[: size[1] * 2 // 3], arr[size[1] * 2 // 3 :] = top, bottom
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


@pytest.fixture(scope="module")
def collection(tmp_path_factory) -> Iterator[tuple[Path, IIIFServer]]:
    root = tmp_path_factory.mktemp("collection")
    image(root / "files" / "red.png", RED, YELLOW)
    image(root / "files" / "green.png", GREEN, NAVY)
    image(root / "files" / "yellow.png", YELLOW, RED)
    image(root / "served" / "blue.jpg", BLUE, YELLOW, (800, 600))
    with IIIFServer(root / "served") as server:
        url = server.base + "/m.json"
        server.add_json("/m.json", {
            "@context": "http://iiif.io/api/presentation/3/context.json", "id": url, "type": "Manifest",
            "label": {"en": ["Blues"]},
            "requiredStatement": {"label": {"en": ["Holder"]}, "value": {"en": ["Test Museum"]}},
            "items": [{
                "id": f"{url}/c1", "type": "Canvas", "label": {"en": ["Blue sheet"]},
                "items": [{"id": f"{url}/p1", "type": "AnnotationPage", "items": [{
                    "id": f"{url}/a1", "type": "Annotation", "motivation": "painting", "target": f"{url}/c1",
                    "body": {"id": f"{server.service('3.0', 'blue')}/full/max/0/default.jpg", "type": "Image",
                             "service": [{"id": server.service("3.0", "blue"), "type": "ImageService3",
                                          "profile": "level1"}]}}]}],
            }],
        })
        inputs = expand_batch_inputs([str(root / "files"), url])
        db = root / "p.sqlite"
        with PaletteStore(db) as store:
            for k in (2, 3):
                summary = run_batch(inputs.sources, store, BatchOptions(k=k), workers=1, canvases=inputs.canvases)
                assert (summary.done, summary.failed) == (4, 0)
        yield db, server


@pytest.fixture(scope="module")
def app_url(collection) -> Iterator[str]:
    db, _ = collection
    with serve_in_thread(create_app(Settings(collection_db=str(db), allow_urls=True, workers=2))) as url:
        yield url


# -- the API ----------------------------------------------------------------------------


def test_search_api_ranks_by_colour_and_filters_by_k(app_url):
    found = httpx.get(f"{app_url}/api/collection/search", params={"color": "#c81e28", "k": 2}).json()["results"]
    assert found[0]["label"] == "red.png" and found[0]["k"] == 2 and found[0]["distance"] < 3
    assert {r["k"] for r in found} == {2}
    blue = httpx.get(f"{app_url}/api/collection/search", params=[("color", "#1e3cc8"), ("color", "#e6c814:20%")]).json()
    assert blue["results"][0]["label"] == "Blue sheet"
    assert blue["results"][0]["thumb"].endswith("/3.0_pil/blue/full/240,/0/default.jpg")


def test_the_image_api_gives_every_k_and_similar_images(app_url):
    first = httpx.get(f"{app_url}/api/collection/search", params={"color": "#c81e28", "k": 3}).json()["results"][0]
    detail = httpx.get(f"{app_url}/api/collection/image/{first['id']}").json()
    assert [p["k"] for p in detail["palettes"]] == [2, 3]
    assert detail["similar"] and all(s["source"] != detail["source"] for s in detail["similar"])
    assert detail["similar"][0]["label"] == "yellow.png"  # the same two colours, other shares


def test_api_errors_are_one_json_line(app_url):
    cases = [
        ({"color": "notacolour"}, 400, "'notacolour' is not a colour"),
        ({"facet": "sparkly"}, 422, "'sparkly' is not a colour facet"),
        ({"color": ["#000000"] * 9}, 422, "at most 8 colours"),
        ({"limit": 1000}, 422, "limit"),
    ]
    for params, status, message in cases:
        answer = httpx.get(f"{app_url}/api/collection/search", params=params)
        assert answer.status_code == status and message in answer.json()["error"]
    assert httpx.get(f"{app_url}/api/collection/image/999999").status_code == 404
    iiif_id = httpx.get(f"{app_url}/api/collection/search", params={"color": "#1e3cc8"}).json()["results"][0]["id"]
    assert httpx.get(f"{app_url}/api/collection/thumb/{iiif_id}").status_code == 404  # not a local file
    assert httpx.get(f"{app_url}/collection", headers={"Host": "evil.example"}).status_code in (400, 403, 421)


def test_local_thumbnails_are_small_jpegs(app_url):
    red = httpx.get(f"{app_url}/api/collection/search", params={"color": "#c81e28"}).json()["results"][0]
    answer = httpx.get(app_url + red["thumb"])
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"


def test_without_allow_urls_no_iiif_thumbnail_and_no_origin_in_the_policy(collection):
    db, server = collection
    with serve_in_thread(create_app(Settings(collection_db=str(db), workers=1))) as url:
        page = httpx.get(url + "/collection")
        assert server.base not in page.headers["content-security-policy"]
        results = httpx.get(f"{url}/api/collection/search", params={"color": "#1e3cc8"}).json()["results"]
        assert results[0]["label"] == "Blue sheet" and results[0]["thumb"] is None


def test_a_missing_database_fails_at_start(tmp_path):
    with pytest.raises(Exception, match="no such database"):
        create_app(Settings(collection_db=str(tmp_path / "none.sqlite")))


# -- the page in Chromium ----------------------------------------------------------------





@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.browser
@needs_chromium
def test_the_page_searches_opens_an_image_by_keyboard_and_finds_similar_ones(browser, app_url, collection, width):
    _, server = collection
    context = browser.new_context(viewport={"width": width, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    hosts: set[str] = set()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: hosts.add(urlsplit(r.url).netloc))
    page.goto(app_url + "/collection")
    cards = page.locator("#results .card")
    cards.first.wait_for()
    assert cards.count() == 8  # 4 images x 2 k, in stored order
    # Every thumbnail loads: local files through the app, the IIIF canvas from its server.
    page.wait_for_function("() => [...document.querySelectorAll('#results img')].every(i => i.complete && i.naturalWidth > 0)")
    # Search for red with k = 3.
    page.click("#add-color")
    page.fill(".color-row input[type=text]", "#c81e28")
    page.fill("#k", "3")
    page.click("#search")
    page.wait_for_function("() => document.getElementById('status').textContent.endsWith('images')")
    assert "red.png" in cards.first.inner_text() and "k 3" in cards.first.inner_text()
    # Keyboard: focus the first result, Enter opens it, Escape closes and gives the focus back.
    cards.first.focus()
    page.keyboard.press("Enter")
    page.locator("#detail[open]").wait_for()
    assert page.locator("#detail-palettes li").count() == 2
    assert page.locator("#detail-similar .card").count() >= 1
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.getElementById('detail').open")
    assert page.evaluate("() => document.activeElement.classList.contains('card')")
    # Drop an image (through the file input): the blue IIIF canvas comes first.
    blue = Path(str(collection[0].parent / "served" / "blue.jpg"))
    page.set_input_files("#like-file", str(blue))
    page.wait_for_function("() => document.getElementById('status').textContent.includes('most like')")
    assert "Blue sheet" in cards.first.inner_text()
    # Phone width: nothing overflows.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    context.close()
    assert errors == []
    assert hosts <= {urlsplit(app_url).netloc, urlsplit(server.base).netloc}
