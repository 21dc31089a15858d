"""``chromapal serve``: a local web page and JSON API (needs the ``web`` extra)."""

from .app import Settings, create_app

__all__ = ["Settings", "create_app"]
