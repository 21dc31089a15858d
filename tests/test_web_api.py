"""The web app's JSON API: the same palettes as the CLI, sessions, recolour, exports, errors."""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
from conftest import encode, flat_rows  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from chromapal import cli  # noqa: E402
from chromapal.export import FORMATS, load_palette  # noqa: E402
from chromapal.web import Settings, create_app  # noqa: E402
from chromapal.web import app as web_app  # noqa: E402
from chromapal.web.server import BACKLOG, BoundedH11Protocol  # noqa: E402

BASE = "http://127.0.0.1"
STATIC = Path(web_app.__file__).parent


def client(**settings: object) -> TestClient:
    """Return a test client of a fresh app on the loopback host name."""
    return TestClient(create_app(Settings(**settings)), base_url=BASE)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def photo_png(small_photo: Image.Image) -> bytes:
    """Return the small photo as PNG bytes."""
    return encode(small_photo, "PNG")


def upload(png: bytes, name: str = "photo.png") -> dict[str, tuple[str, bytes, str]]:
    """Return the multipart `files` argument for one image."""
    return {"image": (name, png, "image/png")}


def test_palette_json_is_exactly_the_cli_json(photo_png, tmp_path, monkeypatch):
    """POST /api/palette returns the text `chromapal photo.png --json` prints, byte for byte."""
    (tmp_path / "photo.png").write_bytes(photo_png)
    monkeypatch.chdir(tmp_path)
    expected = CliRunner().invoke(cli.main, ["photo.png", "-k", "5", "--space", "cielab", "--sort", "hue", "--json"])

    response = client().post("/api/palette", files=upload(photo_png), data={"k": 5, "space": "cielab", "sort": "hue"})

    assert expected.exit_code == 0
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.text == expected.output


def test_few_colour_image_keeps_the_cli_note(tmp_path, monkeypatch):
    """A 3-colour image asked for k=5 gives all 3 colours and the CLI's note."""
    png = encode(Image.fromarray(flat_rows([((255, 0, 0), 5), ((0, 255, 0), 3), ((0, 0, 255), 2)])), "PNG")
    (tmp_path / "bands.png").write_bytes(png)
    monkeypatch.chdir(tmp_path)
    expected = CliRunner().invoke(cli.main, ["bands.png", "-k", "5", "--json"]).stdout

    data = client().post("/api/palette", files=upload(png, "bands.png"), data={"k": 5}).json()

    assert data == json.loads(expected)
    assert [c["hex"] for c in data["colors"]] == ["#ff0000", "#00ff00", "#0000ff"]
    assert data["note"] == "the image has only 3 distinct colours, fewer than k=5"


def test_kept_image_is_reclustered_by_token(photo_png):
    """keep=true returns a token; later requests by token equal fresh uploads, any k."""
    c = client()
    first = c.post("/api/palette", files=upload(photo_png), data={"k": 6, "keep": "true"})
    token = first.headers["X-Chromapal-Token"]

    by_token = c.post("/api/palette", data={"token": token, "k": 3, "space": "srgb"})
    fresh = c.post("/api/palette", files=upload(photo_png), data={"k": 3, "space": "srgb"})

    assert len(first.json()["colors"]) == 6
    assert by_token.status_code == 200
    assert by_token.json() == fresh.json()
    assert len(by_token.json()["colors"]) == 3
    assert len(c.app.state.store) == 1  # the fresh upload without keep left nothing


def test_nothing_is_kept_without_keep(photo_png):
    """Without keep=true no token is issued and the session store stays empty."""
    c = client()

    response = c.post("/api/palette", files=upload(photo_png), data={"k": 4})

    assert "X-Chromapal-Token" not in response.headers
    assert len(c.app.state.store) == 0


def test_sessions_can_be_turned_off(photo_png):
    """With sessions off, keep=true issues no token and tokens are refused with 404."""
    c = client(sessions=False)

    kept = c.post("/api/palette", files=upload(photo_png), data={"keep": "true"})
    by_token = c.post("/api/palette", data={"token": "abc"})

    assert kept.status_code == 200 and "X-Chromapal-Token" not in kept.headers
    assert by_token.status_code == 404
    assert by_token.json() == {"error": "unknown or expired session token; upload the image again"}


def test_forgetting_a_session_removes_it(photo_png):
    """DELETE /api/session/{token} drops the kept image; the token then gives 404."""
    c = client()
    token = c.post("/api/palette", files=upload(photo_png), data={"keep": "true"}).headers["X-Chromapal-Token"]

    assert c.delete(f"/api/session/{token}").json() == {"forgotten": True}
    assert c.post("/api/palette", data={"token": token}).status_code == 404


def test_recolor_uses_only_palette_colours(photo_png):
    """POST /api/recolor returns a PNG drawn only in the palette's colours."""
    c = client()
    palette = c.post("/api/palette", files=upload(photo_png), data={"k": 4}).json()

    response = c.post("/api/recolor", files=upload(photo_png), data={"k": 4})

    assert response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content)).convert("RGB")
    used = {"#{:02x}{:02x}{:02x}".format(*c) for c in np.unique(np.asarray(image).reshape(-1, 3), axis=0)}
    assert image.size == (96, 64)
    assert used == {c["hex"] for c in palette["colors"]}


def test_recolor_preview_is_bounded(tmp_path):
    """A 1200x300 image is previewed at the preview size, 800x200."""
    png = encode(Image.new("RGB", (1200, 300), (10, 20, 30)), "PNG")

    response = client().post("/api/recolor", files=upload(png), data={"k": 2})

    assert Image.open(io.BytesIO(response.content)).size == (800, 200)


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f not in ("procreate",)] + ["procreate"])
def test_every_export_format_reads_back(photo_png, fmt):
    """GET /api/export/{format} by token returns a file that reads back to the same colours."""
    c = client()
    token = c.post("/api/palette", files=upload(photo_png), data={"keep": "true"}).headers["X-Chromapal-Token"]
    hexes = [x["hex"] for x in c.post("/api/palette", data={"token": token, "k": 5}).json()["colors"]]

    response = c.get(f"/api/export/{fmt}", params={"token": token, "k": 5})

    assert response.status_code == 200
    ext = FORMATS[fmt].extensions[0]
    assert response.headers["content-disposition"] == f'attachment; filename="photo-palette.{ext}"'
    assert load_palette(response.content, fmt).hex == hexes


def test_swatch_pictures_download(photo_png):
    """swatch.png is a 960x160 PNG; swatch.svg names every palette colour."""
    c = client()
    hexes = [x["hex"] for x in c.post("/api/palette", files=upload(photo_png), data={"k": 3}).json()["colors"]]

    png = c.post("/api/export/swatch.png", files=upload(photo_png), data={"k": 3})
    svg = c.post("/api/export/swatch.svg", files=upload(photo_png), data={"k": 3})

    assert Image.open(io.BytesIO(png.content)).size == (960, 160)
    assert svg.headers["content-type"] == "image/svg+xml"
    assert all(h in svg.text for h in hexes)


def test_unknown_export_format_is_a_422():
    """An unknown format names the accepted ones."""
    response = client().get("/api/export/bmp", params={"token": "x"})

    assert response.status_code == 422
    assert response.json()["error"].startswith("format: Input should be 'json', 'csv', ")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"k": 0}, "k: Input should be greater than or equal to 1"),
        ({"k": 257}, "k: Input should be less than or equal to 256"),
        ({"space": "hsv"}, "space: Input should be 'oklab', 'cielab' or 'srgb'"),
        ({"min_share": 2}, "min_share: Input should be less than or equal to 1"),
        ({"merge": "inf"}, "merge: Input should be a finite number"),
        ({"merge": "nan"}, "merge: Input should be a finite number"),
        ({"min_share": "nan"}, "min_share: Input should be a finite number"),
    ],
)
def test_bad_options_are_422_with_the_field_named(photo_png, data, message):
    """Out-of-range options give 422 and a one-line message naming the field."""
    response = client().post("/api/palette", files=upload(photo_png), data=data)

    assert response.status_code == 422
    assert response.json() == {"error": message}


def test_an_image_source_is_required():
    """A request with no image, token or URL is a 422 saying what to send."""
    response = client().post("/api/palette", data={"k": 3})

    assert response.status_code == 422
    assert response.json() == {"error": "send exactly one of: an image file, a session token or a URL"}


def test_bugs_are_json_500_without_traceback(photo_png, monkeypatch, caplog):
    """An unexpected exception gives a JSON 500 and one log line, no traceback in the reply."""
    def broken(*args: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(web_app, "palette_for", broken)
    with caplog.at_level(logging.ERROR, logger="chromapal.web"):
        response = client().post("/api/palette", files=upload(photo_png))

    assert response.status_code == 500
    assert response.json() == {"error": "internal error; the server log has details"}
    assert [r.getMessage() for r in caplog.records] == ["500 on POST /api/palette: RuntimeError: kaboom"]


def test_foreign_host_header_is_refused():
    """A Host other than the loopback names (DNS rebinding) gets a 400."""
    response = client().get("/", headers={"Host": "evil.example:8000"})

    assert response.status_code == 400
    assert response.json() == {"error": "unexpected Host header 'evil.example'; open the app at its 127.0.0.1 address"}


def test_other_sites_cannot_post():
    """A request whose Origin is another web site is refused with 403."""
    response = client().post("/api/palette", headers={"Origin": "https://evil.example"}, data={"k": 3})
    same_site = client().get("/", headers={"Origin": "http://127.0.0.1:8000"})

    assert response.status_code == 403
    assert response.json() == {"error": "requests from other web sites are refused"}
    assert same_site.status_code == 200


def test_page_and_docs_are_served_offline():
    """The page, its assets and /docs load, and nothing refers to another host."""
    c = client()
    page = c.get("/")
    docs = c.get("/docs")
    schema = c.get("/openapi.json").json()
    assets = re.findall(r'(?:src|href)="([^"#]+)"', page.text + docs.text)

    assert page.status_code == docs.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert set(schema["paths"]) == {"/api/palette", "/api/recolor", "/api/export/{fmt}", "/api/session/{token}"}
    assert all(a.startswith("/") for a in assets), assets
    for asset in assets:
        assert c.get(asset).status_code == 200, asset
    for path in (STATIC / "static").iterdir():
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", path.read_text()), path.name


def test_serve_command_maps_options_to_settings(monkeypatch):
    """`chromapal serve` passes its limits to the app and listens on 127.0.0.1 by default."""
    calls: dict[str, object] = {}

    def fake_run(app: object, **kwargs: object) -> None:
        calls.update(kwargs, settings=app.state.settings)  # type: ignore[attr-defined]

    monkeypatch.setattr("uvicorn.run", fake_run)
    result = CliRunner().invoke(cli.main, ["serve", "--no-sessions", "--max-upload-mb", "2", "--port", "8123",
                                           "--timeout", "12.5", "--max-connections", "40", "--workers", "3"])

    assert result.exit_code == 0, result.output
    settings = calls["settings"]
    assert (calls["host"], calls["port"]) == ("127.0.0.1", 8123)
    assert settings.sessions is False and settings.allow_urls is False  # type: ignore[attr-defined]
    assert settings.max_upload_bytes == 2 * 1024 * 1024  # type: ignore[attr-defined]
    assert (settings.timeout, settings.workers, settings.max_connections) == (12.5, 3, 40)  # type: ignore[attr-defined]
    # the server limits come from the same function serve_in_thread uses
    assert calls["backlog"] == BACKLOG
    assert calls["http"].keywords["max_connections"] == 40  # type: ignore[attr-defined]
    assert calls["http"].func is BoundedH11Protocol  # type: ignore[attr-defined]
    assert calls["http"].keywords["header_timeout"] == settings.header_timeout  # type: ignore[attr-defined]
    assert result.output == "chromapal: serving on http://127.0.0.1:8123/ (Ctrl+C to stop)\n"


@pytest.mark.parametrize(
    "option", [["--timeout", "nan"], ["--timeout", "inf"], ["--timeout", "0"], ["--max-upload-mb", "nan"],
               ["--session-minutes", "inf"], ["--max-connections", "2"]],
)
def test_serve_refuses_unbounded_limits(monkeypatch, option):
    """NaN, infinite or zero limits are usage errors (exit 2) naming the option; nothing is started."""
    monkeypatch.setattr("uvicorn.run", lambda app, **kwargs: pytest.fail("the server was started"))

    result = CliRunner().invoke(cli.main, ["serve", *option])

    assert result.exit_code == 2
    assert option[0] in result.output


@pytest.mark.parametrize("flag", [[], ["--open"]])
def test_browser_opens_only_when_asked(monkeypatch, flag):
    """The browser is opened with the page's URL only with --open."""
    opened: list[tuple[object, ...]] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kwargs: None)
    monkeypatch.setattr("chromapal.cli.web.threading.Timer", lambda delay, func, args: _Started(opened, args))

    result = CliRunner().invoke(cli.main, ["serve", *flag])

    assert result.exit_code == 0
    assert opened == ([("http://127.0.0.1:8000/",)] if flag else [])


class _Started:
    """Stand-in for threading.Timer that records the call instead of waiting."""

    def __init__(self, calls: list[tuple[object, ...]], args: tuple[object, ...]) -> None:
        self.calls, self.args = calls, args

    def start(self) -> None:
        """Record the arguments the browser would be opened with."""
        self.calls.append(self.args)


def test_serve_command_listens_on_loopback(tmp_path):
    """`chromapal serve` in a subprocess answers on 127.0.0.1 and stops when terminated."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "chromapal", "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
                time.sleep(0.1)
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)

    assert page.status_code == 200 and "<title>chromapal</title>" in page.text
    assert f"serving on http://127.0.0.1:{port}/".encode() in err
    assert b"Traceback" not in err
    assert list(tmp_path.iterdir()) == []
