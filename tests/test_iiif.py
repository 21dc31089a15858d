"""IIIF in: manifests and collections (2.1 and 3.0) against the reference Image API server.

The server (`iiif_server.IIIFServer`, the ``iiif`` package's Flask app) runs on 127.0.0.1;
manifests and collections are built here as plain dicts, following the Presentation
2.1 and 3.0 specifications.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("iiif", reason="the IIIF reference server (pip install iiif) runs these tests")

from iiif_server import IIIFServer  # noqa: E402

from chromapal.batch import BatchOptions, run_batch  # noqa: E402
from chromapal.batch_hosts import HostGate  # noqa: E402
from chromapal.colorspace import ciede2000, lab_from_srgb  # noqa: E402
from chromapal.iiif import ImageInfo, image_request, walk  # noqa: E402
from chromapal.iiif.polite import polite_fetch, retry_after_seconds  # noqa: E402
from chromapal.iiif.presentation import CanvasImage, flatten  # noqa: E402
from chromapal.sources import expand_batch_inputs  # noqa: E402
from chromapal.store import PaletteStore  # noqa: E402
from chromapal.errors import SourceError  # noqa: E402

RED, BLUE, GREEN, YELLOW = (200, 30, 40), (30, 60, 200), (40, 160, 60), (230, 200, 20)


def near(hex_code: str, rgb: tuple[int, int, int], tol: float = 3.0) -> bool:
    """True if a stored colour is within `tol` CIEDE2000 of `rgb` (JPEG from the server)."""
    got = lab_from_srgb(np.array([int(hex_code[i : i + 2], 16) for i in (1, 3, 5)], np.uint8))
    return float(ciede2000(got, lab_from_srgb(np.array(rgb, np.uint8)))) < tol


@pytest.fixture
def server(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    # 2000 x 1500: the palette needs at most 1024 on the long side, asked of the server.
    for name, (top, bottom) in {
        "red": (RED, BLUE),
        "green": (GREEN, GREEN),
        "yellow": (YELLOW, YELLOW),
        "blue": (BLUE, BLUE),
    }.items():
        arr = np.zeros((1500, 2000, 3), np.uint8)
        arr[:1000], arr[1000:] = top, bottom
        Image.fromarray(arr).save(images / f"{name}.jpg", quality=95)
    with IIIFServer(images) as srv:
        yield srv


def manifest_v3(srv: IIIFServer, path: str, canvases: list[dict]) -> str:
    url = srv.base + path
    return srv.add_json(
        path,
        {
            "@context": "http://iiif.io/api/presentation/3/context.json",
            "id": url,
            "type": "Manifest",
            "label": {"en": ["Test manifest"]},
            "rights": "http://creativecommons.org/publicdomain/mark/1.0/",
            "requiredStatement": {"label": {"en": ["Attribution"]}, "value": {"en": ["Test Museum"]}},
            "items": [
                {
                    "id": f"{url}/canvas/{i}",
                    "type": "Canvas",
                    "label": c["label"],
                    "width": 2000,
                    "height": 1500,
                    "items": [
                        {
                            "id": f"{url}/page/{i}",
                            "type": "AnnotationPage",
                            "items": [
                                {
                                    "id": f"{url}/annotation/{i}",
                                    "type": "Annotation",
                                    "motivation": "painting",
                                    "target": f"{url}/canvas/{i}",
                                    "body": c["body"],
                                }
                            ],
                        }
                    ],
                }
                for i, c in enumerate(canvases)
            ],
        },
    )


def body_v3(srv: IIIFServer, ident: str, *, service: bool = True) -> dict:
    body = {
        "id": f"{srv.service('3.0', ident)}/full/max/0/default.jpg",
        "type": "Image",
        "format": "image/jpeg",
    }
    if service:
        body["service"] = [{"id": srv.service("3.0", ident), "type": "ImageService3", "profile": "level1"}]
    return body


def manifest_v2(srv: IIIFServer, path: str, idents: list[str]) -> str:
    url = srv.base + path
    return srv.add_json(
        path,
        {
            "@context": "http://iiif.io/api/presentation/2/context.json",
            "@id": url,
            "@type": "sc:Manifest",
            "label": "A 2.1 manifest",
            "attribution": [{"@value": "Musée Test", "@language": "fr"}, {"@value": "Test Museum", "@language": "en"}],
            "license": "https://creativecommons.org/licenses/by/4.0/",
            "sequences": [
                {
                    "@type": "sc:Sequence",
                    "canvases": [
                        {
                            "@id": f"{url}/canvas/{ident}",
                            "@type": "sc:Canvas",
                            "label": [{"@value": f"Feuille {ident}", "@language": "fr"}, {"@value": f"Sheet {ident}", "@language": "en"}],
                            "images": [
                                {
                                    "@type": "oa:Annotation",
                                    "motivation": "sc:painting",
                                    "resource": {
                                        "@id": f"{srv.service('2.1', ident)}/full/full/0/default.jpg",
                                        "@type": "dctypes:Image",
                                        "service": {
                                            "@context": "http://iiif.io/api/image/2/context.json",
                                            "@id": srv.service("2.1", ident),
                                            "profile": "http://iiif.io/api/image/2/level1.json",
                                        },
                                    },
                                }
                            ],
                        }
                        for ident in idents
                    ],
                }
            ],
        },
    )


def test_a_v3_manifest_stores_each_canvas_with_its_record_and_a_404_canvas_fails_alone(server, tmp_path):
    """Service canvases at <= 1024 px, a canvas without a service by its own URL, a 404 canvas failed."""
    url = manifest_v3(
        server,
        "/m3.json",
        [
            {"label": {"en": ["Red and blue"], "nl": ["Rood en blauw"]}, "body": body_v3(server, "red")},
            {"label": {"none": ["Groen"]}, "body": body_v3(server, "green")},
            {"label": {"en": ["No service"]}, "body": body_v3(server, "yellow", service=False)},
            {"label": {"en": ["Missing"]}, "body": body_v3(server, "missing")},
        ],
    )
    inputs = expand_batch_inputs([url])
    assert len(inputs.sources) == 4 and not inputs.failures
    with PaletteStore(tmp_path / "p.sqlite") as db:
        summary = run_batch(inputs.sources, db, BatchOptions(k=2), workers=2, canvases=inputs.canvases)
        assert (summary.done, summary.failed) == (3, 1)
        images = {im.iiif["label"]: im for im in db.images()}
        assert set(images) == {"Red and blue", "Groen", "No service"}
        red = images["Red and blue"]
        assert red.source == server.service("3.0", "red")
        assert red.iiif["manifest"] == url and red.iiif["canvas"] == f"{url}/canvas/0"
        assert red.iiif["rights"] == "http://creativecommons.org/publicdomain/mark/1.0/"
        assert red.iiif["required_statement"] == "Attribution: Test Museum"
        assert red.iiif["image_url"] == f"{server.service('3.0', 'red')}/full/1024,/0/default.jpg"
        assert near(red.colors[0]["hex"], RED) and near(red.colors[1]["hex"], BLUE)
        assert abs(red.colors[0]["share"] - 2 / 3) < 0.02
        assert near(images["Groen"].colors[0]["hex"], GREEN)
        assert images["No service"].iiif["image_url"].endswith("/yellow/full/max/0/default.jpg")
        assert near(images["No service"].colors[0]["hex"], YELLOW)
        (failure,) = db.failures()
        assert failure["source"] == server.service("3.0", "missing")
        assert "404" in failure["reason"] and "\n" not in failure["reason"]
    # Only bounded sizes were asked of the image service.
    asked = [p for p, _ in server.log if "/full/" in p and "/3.0_pil/red/" in p]
    assert asked == ["/3.0_pil/red/full/1024,/0/default.jpg"]


def test_a_collection_of_collections_v2_and_v3_and_resuming_skips_stored_canvases(server, tmp_path):
    """A 3.0 collection holding a 2.1 collection and a 3.0 manifest; a second run skips everything."""
    m2 = manifest_v2(server, "/m2.json", ["blue", "green"])
    m3 = manifest_v3(server, "/m3b.json", [{"label": {"en": ["Red"]}, "body": body_v3(server, "red")}])
    inner = server.add_json(
        "/c2.json",
        {
            "@context": "http://iiif.io/api/presentation/2/context.json",
            "@id": server.base + "/c2.json",
            "@type": "sc:Collection",
            "label": "Inner",
            "manifests": [{"@id": m2, "@type": "sc:Manifest", "label": "A 2.1 manifest"}],
        },
    )
    top = server.add_json(
        "/top.json",
        {
            "@context": "http://iiif.io/api/presentation/3/context.json",
            "id": server.base + "/top.json",
            "type": "Collection",
            "label": {"en": ["Top"]},
            "items": [{"id": inner, "type": "Collection"}, {"id": m3, "type": "Manifest"}],
        },
    )
    inputs = expand_batch_inputs([top])
    assert not inputs.failures
    assert inputs.sources == [server.service("3.0", "red"), server.service("2.1", "blue"), server.service("2.1", "green")]
    with PaletteStore(tmp_path / "p.sqlite") as db:
        first = run_batch(inputs.sources, db, BatchOptions(k=2), workers=2, canvases=inputs.canvases)
        assert (first.done, first.failed) == (3, 0)
        blue = next(im for im in db.images() if im.source == server.service("2.1", "blue"))
        assert blue.iiif["label"] == "Sheet blue"  # English chosen from the 2.1 language list
        assert blue.iiif["required_statement"] == "Test Museum"
        assert blue.iiif["rights"] == "https://creativecommons.org/licenses/by/4.0/"
        assert blue.iiif["image_url"] == f"{server.service('2.1', 'blue')}/full/1024,/0/default.jpg"
        assert near(blue.colors[0]["hex"], BLUE)
        n_requests = len(server.log)
        again = expand_batch_inputs([top])
        second = run_batch(again.sources, db, BatchOptions(k=2), workers=2, canvases=again.canvases)
        assert (second.done, second.skipped) == (0, 3)
    # The second run read the documents again but no info.json and no image.
    assert all(p.endswith(".json") and "info" not in p for p, _ in server.log[n_requests:])


def test_429_with_retry_after_then_200_is_waited_for(server, tmp_path):
    """info.json and the image each answer 429 (Retry-After: 1) once; the canvas is stored."""
    url = manifest_v3(server, "/m429.json", [{"label": {"en": ["Red"]}, "body": body_v3(server, "red")}])
    server.throttle("/3.0_pil/red/info.json")
    server.throttle("/3.0_pil/red/full/1024,/0/default.jpg")
    inputs = expand_batch_inputs([url])
    started = time.monotonic()
    with PaletteStore(tmp_path / "p.sqlite") as db:
        summary = run_batch(inputs.sources, db, BatchOptions(k=2), workers=1, canvases=inputs.canvases)
        assert (summary.done, summary.failed) == (1, 0)
    assert time.monotonic() - started >= 2.0  # both Retry-After waits honoured
    statuses = [(p, s) for p, s in server.log if p.startswith("/3.0_pil/red/")]
    assert statuses == [
        ("/3.0_pil/red/info.json", 429),
        ("/3.0_pil/red/info.json", 200),
        ("/3.0_pil/red/full/1024,/0/default.jpg", 429),
        ("/3.0_pil/red/full/1024,/0/default.jpg", 200),
    ]


def test_a_retry_after_past_the_deadline_fails_at_once(server):
    """A server asking to wait longer than the time left fails the download without sleeping."""
    server.throttle("/3.0_pil/red/info.json", 5)
    slept: list[float] = []
    with pytest.raises(SourceError, match="429.*Retry-After 1 s is past"):
        polite_fetch(server.service("3.0", "red") + "/info.json", deadline=time.monotonic() + 0.5, sleep=slept.append)
    assert slept == []


def test_an_unreadable_manifest_is_one_failure_and_the_batch_goes_on(server, tmp_path):
    """A 404 manifest and JSON that is not IIIF are failures; the good manifest is stored."""
    good = manifest_v3(server, "/good.json", [{"label": {"en": ["Red"]}, "body": body_v3(server, "red")}])
    other = server.add_json("/other.json", {"hello": "world"})
    inputs = expand_batch_inputs([server.base + "/nothing.json", other, good])
    assert [f["source"] for f in inputs.failures] == [server.base + "/nothing.json", other]
    assert "404" in inputs.failures[0]["reason"] and "not a IIIF" in inputs.failures[1]["reason"]
    with PaletteStore(tmp_path / "p.sqlite") as db:
        summary = run_batch(inputs.sources, db, BatchOptions(k=2), workers=1, canvases=inputs.canvases,
                            failures=inputs.failures)
        assert (summary.total, summary.done, summary.failed) == (3, 1, 2)
        assert len(db.failures()) == 2


# -- bounds, with generated hostile documents ---------------------------------------------


def test_deep_nesting_and_cycles_are_bounded():
    """A collection nesting 1,000 deep stops at the depth limit; a self-including one ends."""
    def chain(url):
        n = int(url.rsplit("/", 1)[1])
        return {"type": "Collection", "id": url, "items": [{"id": f"c/{n + 1}", "type": "Collection"}]}

    found = walk("c/0", chain, max_depth=8)
    assert found.canvases == [] and len(found.errors) == 1
    assert "deeper than 8" in found.errors[0][1]

    def cycle(url):
        return {"type": "Collection", "id": url, "items": [{"id": "loop", "type": "Collection"}]}

    assert walk("loop", cycle).errors == []


def test_document_and_canvas_counts_are_bounded():
    """A collection of 100,000 manifests stops at max_documents; a huge manifest at max_canvases."""
    def wide(url):
        if url == "top":
            return {"type": "Collection", "items": [{"id": f"m/{i}", "type": "Manifest"} for i in range(100_000)]}
        return {"type": "Manifest", "id": url, "items": [{"id": f"{url}/c/{i}", "type": "Canvas"} for i in range(3)]}

    found = walk("top", wide, max_documents=50, max_canvases=1000)
    assert len(found.canvases) == 3 * 49
    assert "more than 50 manifests" in found.errors[-1][1]
    found = walk("top", wide, max_documents=1000, max_canvases=100)
    assert len(found.canvases) == 100 and "more than 100 canvases" in found.errors[-1][1]


def test_language_maps_are_flattened():
    assert flatten({"nl": ["Rood"], "en": ["Red", "Scarlet"]}) == "Red; Scarlet"
    assert flatten({"none": ["Inv. 12"]}) == "Inv. 12"
    assert flatten({"fr": ["Rouge"]}) == "Rouge"
    assert flatten([{"@value": "Rouge", "@language": "fr"}, {"@value": "Red", "@language": "en-GB"}]) == "Red"
    assert flatten("  plain ") == "plain"
    assert flatten({"en": []}) is None


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (ImageInfo("s", 2, 4000, 3000, 1), "s/full/1024,/0/default.jpg"),
        (ImageInfo("s", 3, 800, 600, 2), "s/full/max/0/default.jpg"),
        (ImageInfo("s", 2, 800, 600, 1), "s/full/full/0/default.jpg"),
        (ImageInfo("s", 3, 4000, 3000, 1, max_width=500), "s/full/500,/0/default.jpg"),
        (ImageInfo("s", 3, 4000, 3000, 1, max_area=120_000), "s/full/400,/0/default.jpg"),
        (ImageInfo("s", 3, 4000, 3000, 0, sizes=((250, 188), (1000, 750), (2000, 1500))), "s/full/2000,1500/0/default.jpg"),
        (ImageInfo("s", 3, 4000, 3000, 0, sizes=((250, 188), (500, 375))), "s/full/500,375/0/default.jpg"),
        (ImageInfo("s", 2, 4000, 3000, 0), "s/full/full/0/default.jpg"),
    ],
)
def test_the_size_asked_is_what_a_palette_needs_within_the_server_limits(info, expected):
    assert image_request(info) == expected


def test_retry_after_in_seconds_or_as_a_date():
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_the_per_host_limit_holds_while_files_and_other_hosts_go_ahead():
    """With 2 per host, a third source of one host waits while files and another host start."""
    sources = ["http://a.test/1", "http://a.test/2", "http://a.test/3", "/tmp/x.png", "http://b.test/1"]
    canvases = {"http://a.test/3": CanvasImage("m", "c", None, None, "http://a.test/3").as_dict()}
    gate = HostGate(iter(sources), 2, canvases)
    started = [gate.take() for _ in range(4)]
    assert started == ["http://a.test/1", "http://a.test/2", "/tmp/x.png", "http://b.test/1"]
    assert gate.take() is None and not gate.exhausted
    gate.finished("http://a.test/1")
    assert gate.take() == "http://a.test/3"
    assert gate.take() is None and gate.exhausted


def test_the_batch_command_reads_a_manifest_and_search_shows_canvas_labels(server, tmp_path):
    """`chromapal batch MANIFEST_URL -k 2-3`: every canvas at both k; search names the canvas label."""
    from click.testing import CliRunner

    from chromapal import cli

    url = manifest_v3(server, "/cli.json", [
        {"label": {"en": ["Red and blue"]}, "body": body_v3(server, "red")},
        {"label": {"en": ["Missing"]}, "body": body_v3(server, "missing")},
    ])
    db = tmp_path / "p.sqlite"
    result = CliRunner().invoke(cli.main, ["batch", url, "-k", "2-3", "--db", str(db), "--workers", "1",
                                           "--no-progress"])
    assert result.exit_code == 1, result.output  # the 404 canvas failed, the rest is stored
    assert "404" in result.output and "Traceback" not in result.output
    found = CliRunner().invoke(cli.main, ["search", "--db", str(db), "--color", "#c81e28"])
    lines = found.stdout.splitlines()
    assert [line.split()[4] for line in lines[1:]] == ["2", "3"] or [line.split()[4] for line in lines[1:]] == ["3", "2"]
    assert all("Red and blue" in line for line in lines[1:])


def test_chromapal_on_a_manifest_url_prints_each_canvas_palette(server):
    """`chromapal MANIFEST_URL`: one palette per canvas, named by its label, at a bounded size;
    a 404 canvas is one error line and exit status 1."""
    from click.testing import CliRunner

    from chromapal import cli

    url = manifest_v3(server, "/one.json", [
        {"label": {"en": ["Red and blue"]}, "body": body_v3(server, "red")},
        {"label": {"en": ["No service"]}, "body": body_v3(server, "yellow", service=False)},
        {"label": {"en": ["Missing"]}, "body": body_v3(server, "missing")},
    ])
    result = CliRunner().invoke(cli.main, [url, "-k", "2", "--json"])
    assert result.exit_code == 1, result.output
    palettes = json.loads(result.stdout)
    assert [p["source"].split(": ")[0] for p in palettes] == ["Red and blue", "No service"]
    red = palettes[0]["colors"]
    assert near(red[0]["hex"], RED) and near(red[1]["hex"], BLUE)
    assert near(palettes[1]["colors"][0]["hex"], YELLOW)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Missing" in errors[0] and "404" in errors[0]
    asked = [p for p, _ in server.log if "/full/" in p and "/3.0_pil/red/" in p]
    assert asked == ["/3.0_pil/red/full/1024,/0/default.jpg"]
