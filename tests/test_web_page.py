"""The web page at phone and desktop widths: failed uploads, choosing another image, layout.

Drives Debian's /usr/bin/chromium headless through Playwright, as tests/test_web_browser.py
does. Every bad file is generated here. Set CHROMAPAL_PAGE_SHOTS=DIR to keep the
screenshots the layout test takes (one per width, with a palette on screen).
"""

from __future__ import annotations

import base64
import io
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
pytest.importorskip("playwright.sync_api")

from conftest import NEEDS_CHROMIUM  # noqa: E402

from chromapal.web import Settings, create_app  # noqa: E402
from chromapal.web.server import serve_in_thread  # noqa: E402

DATA = Path(__file__).parent / "data"
#: Upload limits of the app under test, small so that the generated attacks stay small.
LIMIT_BYTES = 400_000
LIMIT_PIXELS = 200_000
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
VIEWPORTS = [pytest.param(PHONE, id="phone"), pytest.param(DESKTOP, id="desktop")]

pytestmark = NEEDS_CHROMIUM


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """Serve an app with small upload limits on a free 127.0.0.1 port; yield its URL."""
    with serve_in_thread(create_app(Settings(max_upload_bytes=LIMIT_BYTES, max_pixels=LIMIT_PIXELS))) as url:
        yield url




@pytest.fixture
def open_page(browser, base_url) -> Iterator[Callable[..., object]]:
    """Return a function opening the app at a viewport size; fail on script errors or CSP reports.

    Waits are written as functions: Playwright evaluates bare expressions with `eval`,
    which the page's Content-Security-Policy forbids.
    """
    contexts = []
    problems: list[str] = []

    def open_(viewport: dict[str, int], color_scheme: str = "light"):
        context = browser.new_context(viewport=viewport, color_scheme=color_scheme)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda e: problems.append(f"script error: {e}"))
        page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
        # Intercept file pickers from the start: the interception `expect_file_chooser` turns on
        # is not acknowledged, and a key pressed right after it can open a picker it misses.
        page.on("filechooser", lambda chooser: None)
        page.goto(base_url + "/")
        return page

    yield open_
    for context in contexts:
        context.close()
    assert problems == []


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Generate the good pictures and the failed uploads (each under one limit only)."""
    folder = tmp_path_factory.mktemp("page")
    photo = Image.open(DATA / "kodim23.png").convert("RGB").resize((384, 256), Image.Resampling.BILINEAR)
    paths = {
        "photo": folder / "macaws.png",
        # three flat bands: a palette that shares no colour with the photo's
        "bands": folder / "bands.png",
        "text": folder / "notes.png",
        "too_many_bytes": folder / "noise.png",
        "too_many_pixels": folder / "wide.png",
        "long_name": folder / ("a-very-long-file-name-without-any-spaces-" * 3 + ".png"),
    }
    photo.save(paths["photo"])
    photo.save(paths["long_name"])
    bands = np.zeros((120, 180, 3), np.uint8)
    bands[:40], bands[40:80], bands[80:] = (200, 30, 40), (30, 160, 60), (40, 60, 210)
    Image.fromarray(bands).save(paths["bands"])
    paths["text"].write_bytes(b"This is a text file with a .png name.\n" * 40)
    noise = np.random.default_rng(1).integers(0, 256, (400, 400, 3), dtype=np.uint8)  # 160,000 pixels
    Image.fromarray(noise).save(paths["too_many_bytes"])
    Image.new("RGB", (600, 400), (90, 90, 90)).save(paths["too_many_pixels"])  # 240,000 pixels, tiny file

    assert photo.width * photo.height <= LIMIT_PIXELS and paths["photo"].stat().st_size <= LIMIT_BYTES
    assert paths["too_many_bytes"].stat().st_size > LIMIT_BYTES
    assert paths["too_many_pixels"].stat().st_size <= LIMIT_BYTES
    return paths


# -- helpers -----------------------------------------------------------------------------------


def load(page, path: Path) -> None:
    """Choose `path` in the file input and wait until its palette and preview are shown."""
    page.set_input_files("#file", str(path))
    wait_for_image(page, path.name)


def wait_for_image(page, name: str) -> None:
    """Wait until the page shows the palette and flattened preview of the image called `name`."""
    page.wait_for_function(
        """(name) => document.body.dataset.state === 'ready'
            && document.getElementById('original-caption').textContent === name
            && document.querySelectorAll('.swatch').length > 0
            && document.getElementById('flat').complete && document.getElementById('flat').naturalWidth > 0""",
        arg=name,
    )


def swatch_hexes(page) -> list[str]:
    """Return the hex codes shown on the swatches, in order."""
    return page.eval_on_selector_all(".swatch .hex", "els => els.map(e => e.textContent)")


def download_states(page) -> list[bool]:
    """Return whether each download button is disabled."""
    return page.eval_on_selector_all("#formats button", "els => els.map(b => b.disabled)")


def export_status(base_url: str, token: str) -> int:
    """Return the status of a JSON export of the kept image `token` (404 once it is forgotten)."""
    return httpx.get(f"{base_url}/api/export/json", params={"token": token}, timeout=10).status_code


def overflow(page, scrolled: str = "") -> dict[str, object]:
    """Measure horizontal overflow: the document's width and the elements reaching past the viewport.

    Elements inside a `scrolled` container (a CSS selector) are left out: they scroll there.
    """
    return page.evaluate("""(scrolled) => ({
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: innerWidth,
        outside: [...document.querySelectorAll('body *')]
            .filter(e => e.getClientRects().length && e.getBoundingClientRect().right > innerWidth + 0.5)
            .filter(e => !(scrolled && e.parentElement.closest(scrolled)))
            .map(e => `${e.tagName.toLowerCase()}#${e.id}.${e.className}`),
    })""", scrolled)


def file_handle(page, path: Path, mime: str = "image/png"):
    """Return a handle to a DataTransfer holding `path` as a File, as a drop or paste carries it."""
    return page.evaluate_handle(
        """([name, b64, mime]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const data = new DataTransfer();
            data.items.add(new File([bytes], name, { type: mime }));
            return data;
        }""",
        [path.name, base64.b64encode(path.read_bytes()).decode(), mime],
    )


# -- 1. a failed upload leaves no stale result ----------------------------------------------------

FAILURES = [
    pytest.param("text", "not an image", id="text-renamed-png"),
    pytest.param("too_many_bytes", "the limit is 0.4 MB", id="too-large-file"),
    pytest.param("too_many_pixels", "over the limit of 200,000", id="too-many-pixels"),
]


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize(("bad", "cause"), FAILURES)
def test_failed_upload_clears_the_previous_result(open_page, base_url, files, viewport, bad, cause):
    """After a failed upload: the error naming the file, no swatches, pie or preview, no downloads, no token."""
    page = open_page(viewport)
    tokens: list[str] = []
    page.on("response", lambda r: tokens.append(r.headers["x-chromapal-token"])
            if "x-chromapal-token" in r.headers else None)
    load(page, files["photo"])
    assert len(swatch_hexes(page)) == 6 and not any(download_states(page))
    old = tokens[-1]
    assert export_status(base_url, old) == 200

    sent: list[str] = []
    page.on("request", lambda r: sent.append(f"{r.method} {r.url} {r.post_data_buffer or b''!r}"))
    page.set_input_files("#file", str(files[bad]))
    page.wait_for_function("() => document.getElementById('status').classList.contains('error')")
    page.wait_for_function("() => document.body.dataset.state !== 'busy'")

    status = page.text_content("#status")
    assert files[bad].name in status and cause in status
    assert page.is_visible("#status")
    assert swatch_hexes(page) == []
    assert page.eval_on_selector("#pie", "svg => svg.childElementCount") == 0
    assert page.is_hidden("#results")
    assert download_states(page) and all(download_states(page))
    assert page.get_attribute("#flat", "src") is None and page.is_hidden("#flat")
    assert page.get_attribute("#original", "src") is None and page.is_hidden("#original")
    assert page.text_content("#count") == ""
    assert page.is_visible("#choose")  # back to the empty drop zone, ready for the next image

    # the kept image is forgotten, by the page and by the server
    deadline = time.monotonic() + 5
    while export_status(base_url, old) != 404 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert export_status(base_url, old) == 404
    page.focus("#k")
    page.keyboard.press("ArrowRight")
    page.eval_on_selector("#formats button", "b => b.click()")  # disabled: nothing may happen
    page.wait_for_timeout(200)
    load(page, files["photo"])
    assert not any(download_states(page))
    assert [r for r in sent if old in r] == [f"DELETE {base_url}/api/session/{old} b''"]
    if bad == "too_many_bytes":  # refused by the page itself: never sent
        assert all(files[bad].name not in request for request in sent)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_failed_upload_from_the_keyboard_keeps_the_focus_near(open_page, files, viewport):
    """A failed choice made with "Choose another image" moves the focus to "Choose an image"."""
    page = open_page(viewport)
    load(page, files["photo"])
    page.focus("#choose-another")
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    chooser.value.set_files(str(files["text"]))
    page.wait_for_function("() => document.getElementById('status').classList.contains('error')")

    assert page.evaluate("() => document.activeElement.id") == "choose"
    assert page.is_hidden("#choose-another")


# -- 2. choosing another image: a visible button, by keyboard; drop and paste still work ---------


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_choose_another_image_with_the_keyboard(open_page, files, viewport):
    """Once an image is shown, Tab reaches a visible "Choose another image" button; Enter opens the picker."""
    page = open_page(viewport)
    assert page.is_hidden("#choose-another")  # the empty page has its own "Choose an image" button
    load(page, files["photo"])
    first = swatch_hexes(page)

    assert page.is_visible("#choose-another")
    assert page.eval_on_selector("#choose-another", "b => b.tagName + ' ' + b.type") == "BUTTON button"
    assert page.text_content("#choose-another").startswith("Choose another image")
    box = page.locator("#choose-another").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]

    page.evaluate("() => document.activeElement.blur()")
    reached = False
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "choose-another":
            reached = True
            break
    assert reached
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    assert not chooser.value.is_multiple()
    chooser.value.set_files(str(files["bands"]))
    wait_for_image(page, "bands.png")

    assert len(swatch_hexes(page)) == 3
    assert set(swatch_hexes(page)).isdisjoint(first)
    assert page.is_visible("#choose-another")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_drop_and_paste_still_replace_the_image(open_page, files, viewport):
    """Dropping a file on the page and pasting one both replace the image shown."""
    page = open_page(viewport)
    load(page, files["photo"])
    photo = swatch_hexes(page)

    page.dispatch_event("#drop", "drop", {"dataTransfer": file_handle(page, files["bands"])})
    wait_for_image(page, "bands.png")
    bands = swatch_hexes(page)
    page.evaluate(
        "(data) => window.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data }))",
        file_handle(page, files["photo"]),
    )
    wait_for_image(page, "macaws.png")

    assert len(bands) == 3 and set(bands).isdisjoint(photo)
    assert swatch_hexes(page) == photo


# -- 3. no horizontal overflow; pictures scale down; download buttons wrap ------------------------


@pytest.mark.parametrize("width", [320, 390, 1280])
def test_no_horizontal_overflow(open_page, files, width, tmp_path):
    """At 320, 390 and 1280 px nothing is wider than the window: empty, loaded, and after an error."""
    page = open_page({"width": width, "height": 800}, color_scheme="dark" if width == 320 else "light")
    empty = overflow(page)
    load(page, files["long_name"])  # a long caption must not widen the page
    loaded = overflow(page)
    images = page.evaluate("""() => ['original', 'flat'].map((id) => {
        const img = document.getElementById(id);
        return [img.getBoundingClientRect().right, img.parentElement.getBoundingClientRect().right,
                img.getBoundingClientRect().width, img.naturalWidth];
    })""")
    buttons = page.eval_on_selector_all(
        "#formats button", "els => els.map(b => { const r = b.getBoundingClientRect(); return [r.left, r.right, r.top]; })"
    )
    shot = page.screenshot(full_page=True)
    if os.environ.get("CHROMAPAL_PAGE_SHOTS"):
        folder = Path(os.environ["CHROMAPAL_PAGE_SHOTS"])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"page-{width}.png").write_bytes(shot)
    bad = tmp_path / ("b" * 120 + ".png")
    bad.write_bytes(files["text"].read_bytes())
    page.set_input_files("#file", str(bad))
    page.wait_for_function("() => document.getElementById('status').classList.contains('error')")
    failed = overflow(page)

    for state in (empty, loaded, failed):
        assert state["scrollWidth"] <= state["innerWidth"] == width, state
        assert state["outside"] == [], state
    for right, container_right, shown, natural in images:  # scaled down into their column
        assert right <= container_right + 0.5 and right <= width
        assert 0 < shown and natural == 384
    assert buttons and all(0 <= left and right <= width for left, right, _ in buttons)
    if width < 1280:  # 14 buttons cannot fit one row on a phone: they wrap to several
        assert len({round(top) for _, _, top in buttons}) > 1
    assert Image.open(io.BytesIO(shot)).width == width


@pytest.mark.parametrize("width", [320, 390])
def test_api_reference_does_not_overflow_on_a_phone(open_page, base_url, width):
    """The /docs page keeps its wide parameter tables inside their cards, scrolling there."""
    page = open_page({"width": width, "height": 800})
    page.goto(base_url + "/docs")
    page.wait_for_selector(".op table")
    state = overflow(page, scrolled=".table-scroll")
    scrollers = page.eval_on_selector_all(".table-scroll", "els => els.map(e => e.getBoundingClientRect().right)")

    assert state["scrollWidth"] <= state["innerWidth"] == width, state
    assert state["outside"] == [], state
    assert scrollers and all(right <= width for right in scrollers)


def relative_luminance(css: str) -> float:
    """Return the WCAG relative luminance of a computed `rgb(r, g, b)` colour."""
    channels = [int(v) / 255 for v in css[css.index("(") + 1:css.index(")")].split(",")[:3]]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_upload_error_is_readable_in_both_themes(open_page, files, scheme):
    """The error line has at least 4.5:1 contrast with the page in the light and the dark theme."""
    page = open_page(PHONE, color_scheme=scheme)
    page.set_input_files("#file", str(files["text"]))
    page.wait_for_function("() => document.getElementById('status').classList.contains('error')")
    ink = page.eval_on_selector("#status", "e => getComputedStyle(e).color")
    paper = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    lighter, darker = sorted((relative_luminance(ink), relative_luminance(paper)), reverse=True)

    assert (lighter + 0.05) / (darker + 0.05) >= 4.5, (ink, paper)
    assert paper == ("rgb(246, 246, 244)" if scheme == "light" else "rgb(20, 20, 23)")
