"""The ``chromapal serve`` command: run the local web app with uvicorn.

Imported only when ``chromapal serve`` runs (see `chromapal.cli.group`).
"""

from __future__ import annotations

import ipaddress
import threading
import webbrowser
from pathlib import Path

import click

from .common import FiniteFloatRange, OneLineCommand, handle_errors

_LOCAL = ("127.0.0.1", "localhost", "::1")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_free(host: str, port: int) -> None:
    """Fail with one line (exit 1) unless HOST:PORT can be listened on, as uvicorn will bind it."""
    import errno
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise click.ClickException(f"--host {host}: not an address of this machine ({exc})") from exc
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind(address)
        except OSError as exc:
            why = exc.strerror or str(exc)
            if exc.errno == errno.EADDRINUSE:
                why = "the port is in use by another program; choose another with --port"
            raise click.ClickException(f"cannot listen on {host}:{port}: {why}") from exc


@click.command("serve", cls=OneLineCommand)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback exposes the app to your network.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True,
              help="Port to listen on.")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the web browser.")
@click.option("--allow-urls", is_flag=True,
              help="Let requests name an http(s) image URL to fetch (public addresses only).")
@click.option("--max-upload-mb", type=FiniteFloatRange(min=0.001), default=50.0, show_default=True,
              help="Largest image upload accepted, in megabytes (MiB).")
@click.option("--max-pixels", type=click.IntRange(1), default=50_000_000, show_default=True,
              help="Refuse images with more pixels (decompression-bomb guard).")
@click.option("--no-sessions", is_flag=True,
              help="Keep nothing between requests: the page re-uploads the image on every change.")
@click.option("--session-minutes", type=FiniteFloatRange(min=0.1, max=7 * 24 * 60), default=15.0,
              show_default=True, help="Minutes an unused image stays in memory for the page's re-clustering.")
@click.option("--timeout", type=FiniteFloatRange(min=0.1, max=3600), default=30.0, show_default=True,
              help="Seconds one image may take to fetch, decode and cluster; past it the request gets "
              "an error and its worker process is replaced.")
@click.option("--workers", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Worker processes decoding and clustering (images worked on at once).")
@click.option("--max-connections", type=click.IntRange(4, 10_000), default=100, show_default=True,
              help="Open connections at most; a request beyond them gets 503.")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also serve a collection view of this palette database at /collection (see `chromapal batch`).")
@handle_errors
def serve_command(
    host: str, port: int, open_browser: bool, allow_urls: bool, max_upload_mb: float,
    max_pixels: int, no_sessions: bool, session_minutes: float, timeout: float, workers: int,
    max_connections: int, db: Path | None = None,
) -> None:
    """Run the web app: drop an image on the page to see and download its palette.

    Listens on 127.0.0.1:8000 by default; the API reference is at /docs.
    Stop it with Ctrl+C.
    """
    try:
        import uvicorn

        from ..web import Settings, create_app
        from ..web.server import server_options
    except ImportError as exc:
        raise click.ClickException(
            f"the web app needs the 'web' extra: pip install 'chromapal[web]' ({exc.name} is missing)"
        ) from exc
    allowed = _LOCAL if _is_loopback(host) else ()  # a LAN address: any Host header
    settings = Settings(
        max_upload_bytes=int(max_upload_mb * 1024 * 1024), max_pixels=max_pixels,
        allow_urls=allow_urls, sessions=not no_sessions, session_ttl=session_minutes * 60,
        allowed_hosts=allowed, timeout=timeout, workers=workers, max_connections=max_connections,
        collection_db=None if db is None else str(db),
    )
    if db is not None:
        from ..errors import PaletteError
        from ..store import PaletteStore

        try:
            PaletteStore(db, create=False).close()
        except PaletteError as exc:
            raise click.ClickException(str(exc)) from exc
    if not _is_loopback(host):
        click.echo(f"warning: listening on {host}: other machines can use this app", err=True)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    check_free(host, port)
    if open_browser:
        threading.Timer(1.0, webbrowser.open, (url,)).start()
    click.echo(f"chromapal: serving on {url} (Ctrl+C to stop)", err=True)
    if db is not None:
        click.echo(f"chromapal: the collection of {db} is at {url}collection", err=True)
    uvicorn.run(create_app(settings), host=host, port=port, **server_options(settings))
