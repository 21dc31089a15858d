"""A real IIIF Image API server for the tests: the reference implementation (``iiif`` on PyPI).

`IIIFServer` serves, on 127.0.0.1 and a free port, in a thread:

* the reference implementation's Flask app (``iiif.flask_utils``, PIL manipulator) with
  Image API 2.1 under ``/2.1_pil`` and 3.0 under ``/3.0_pil``, reading images from a
  folder the test fills;
* JSON documents (manifests, collections) the test registers with `add_json`;
* ``throttle(path, times)``: the next `times` requests of `path` answer 429 with
  ``Retry-After: 1`` before the real answer.

Every request is recorded in `log` as (path, status).
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server


class IIIFServer:
    """The reference IIIF Image API server plus test documents; a context manager."""

    def __init__(self, image_dir: Path) -> None:
        from flask import Flask
        from iiif.flask_utils import Config, add_handler, make_prefix

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        logging.getLogger().setLevel(logging.ERROR)
        self.image_dir = image_dir
        self.docs: dict[str, bytes] = {}
        self.throttled: dict[str, int] = {}
        self.log: list[tuple[str, int]] = []
        self.lock = threading.Lock()
        self.app = Flask("chromapal_test_iiif")
        self.server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.port = self.server.server_port
        self.base = f"http://127.0.0.1:{self.port}"
        cfg = argparse.Namespace(
            scheme="http",
            host="127.0.0.1",
            port=self.port,
            image_dir=str(image_dir),
            generator_dir=str(image_dir),
            tile_height=512,
            tile_width=512,
            scale_factors=["auto"],
            include_osd=False,
            access_cookie_lifetime=3600,
            access_token_lifetime=10,
            gauth_client_secret="",
            container_prefix="",
            debug=False,
            pages_dir="",
        )
        for version in ("2.1", "3.0"):
            config = Config(cfg)
            config.api_version = version
            config.klass_name = "pil"
            config.auth_type = "none"
            config.gauth_client_secret_file = ""
            config.prefix = config.client_prefix = make_prefix(version, "pil", "none")
            add_handler(self.app, config)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def service(self, version: str, identifier: str) -> str:
        """The Image API service id of an image file in the image folder."""
        return f"{self.base}/{version}_pil/{identifier}"

    def add_json(self, path: str, doc: Any) -> str:
        """Serve `doc` as JSON at `path`; return its URL."""
        self.docs[path] = json.dumps(doc).encode()
        return self.base + path

    def throttle(self, path: str, times: int = 1) -> None:
        """Answer the next `times` requests of `path` with 429 and ``Retry-After: 1``."""
        self.throttled[path] = times

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        with self.lock:
            left = self.throttled.get(path, 0)
            if left:
                self.throttled[path] = left - 1
        if left:
            self.log.append((path, 429))
            start_response("429 Too Many Requests", [("Retry-After", "1"), ("Content-Length", "0")])
            return [b""]
        if path in self.docs:
            self.log.append((path, 200))
            body = self.docs[path]
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]

        def recording_start(status: str, headers: Any, *rest: Any) -> Any:
            self.log.append((path, int(status.split()[0])))
            return start_response(status, headers, *rest)

        return self.app.wsgi_app(environ, recording_start)

    def __enter__(self) -> IIIFServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
