"""IIIF Presentation 2.1 and 3.0: manifests and collections into the images of their canvases.

`walk` reads a manifest or a collection (nested collections followed, breadth first,
each document once) and yields a `CanvasImage` per canvas: manifest and canvas ids,
the canvas label, the image resource's URL, its Image API service if it has one, and
the manifest's rights and required statement (2.1: ``license`` and ``attribution``).

Labels and other language maps are flattened to one string: the English values if
there are any, else the language-neutral ones (``none``, or values without a
language), else those of the first language, joined with "; ".

Bounds (each per input URL): `MAX_DEPTH` levels of collections, `MAX_DOCUMENTS`
manifests and collections read, `MAX_CANVASES` canvases, `MAX_DOCUMENT_BYTES` per
document. Past a bound the walk stops and says so in its errors; what was found is kept.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from ..errors import SourceError

MAX_DEPTH: Final = 8
MAX_DOCUMENTS: Final = 10_000
MAX_CANVASES: Final = 1_000_000
MAX_DOCUMENT_BYTES: Final = 32 * 1024 * 1024
_SERVICE_TYPES: Final = ("ImageService2", "ImageService3", "ImageService1")


@dataclass(frozen=True)
class CanvasImage:
    """The image of one canvas, and where it came from."""

    manifest: str
    canvas: str
    label: str | None
    image_url: str | None  # the image resource's own URL
    service: str | None  # the Image API service id (base URL), if any
    rights: str | None = None
    required_statement: str | None = None

    @property
    def source(self) -> str:
        """The stored source: the service id if there is one, else the image URL."""
        return self.service or self.image_url or self.canvas

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (what worker processes receive and the ``iiif`` table stores)."""
        return asdict(self)


@dataclass
class Walk:
    """What `walk` found: canvases, and one line per document that could not be read."""

    canvases: list[CanvasImage] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)


def is_iiif(doc: Any) -> bool:
    """True for a JSON object that is a IIIF manifest or collection (2.1 or 3.0)."""
    if not isinstance(doc, dict):
        return False
    kind = str(doc.get("type") or doc.get("@type") or "")
    return kind in ("Manifest", "Collection", "sc:Manifest", "sc:Collection")


def parse_document(data: bytes, where: str) -> dict[str, Any]:
    """A manifest or collection from its JSON body.

    Raises
    ------
    SourceError
        If it is not JSON or not a IIIF manifest or collection.
    """
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise SourceError(f"{where}: not a IIIF manifest or collection (not JSON: {exc})") from None
    if not is_iiif(doc):
        raise SourceError(f"{where}: JSON, but not a IIIF manifest or collection")
    return doc


def walk(
    url: str,
    fetch_json: Callable[[str], dict[str, Any]],
    *,
    first: dict[str, Any] | None = None,
    max_depth: int = MAX_DEPTH,
    max_documents: int = MAX_DOCUMENTS,
    max_canvases: int = MAX_CANVASES,
) -> Walk:
    """Every canvas image of the manifest or collection at `url`.

    Parameters
    ----------
    url : str
        Where the document is.
    fetch_json : callable
        ``fetch_json(url) -> document``; raises `SourceError` (recorded in the errors,
        the walk goes on).
    first : dict, optional
        The document at `url`, if already read.
    max_depth, max_documents, max_canvases : int
        Bounds; see the module docstring.
    """
    out = Walk()
    queue: deque[tuple[str, dict[str, Any] | None, int]] = deque([(url, first, 0)])
    seen: set[str] = set()
    documents = 0
    while queue:
        where, doc, depth = queue.popleft()
        if where in seen:
            continue
        seen.add(where)
        documents += 1
        if documents > max_documents:
            out.errors.append((where, f"more than {max_documents:,} manifests and collections; stopped"))
            break
        try:
            doc = doc if doc is not None and _has_content(doc) else fetch_json(where)
        except SourceError as exc:
            out.errors.append((where, str(exc)))
            continue
        kind = str(doc.get("type") or doc.get("@type") or "")
        if kind.endswith("Collection"):
            members = list(_members(doc))
            if members and depth + 1 > max_depth:
                out.errors.append((where, f"collections nested deeper than {max_depth}; not followed"))
                continue
            queue.extend((member_id, member, depth + 1) for member_id, member in members)
            continue
        for canvas in _canvases(doc, where):
            if len(out.canvases) >= max_canvases:
                out.errors.append((where, f"more than {max_canvases:,} canvases; stopped"))
                return out
            out.canvases.append(canvas)
    return out


def _id(obj: Any) -> str | None:
    if isinstance(obj, str):
        return obj
    if isinstance(obj, dict):
        value = obj.get("id") or obj.get("@id")
        return value if isinstance(value, str) else None
    return None


def _has_content(doc: dict[str, Any]) -> bool:
    """True when an embedded member carries its content (not just a reference)."""
    return any(key in doc for key in ("items", "sequences", "manifests", "collections", "members"))


def _members(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """(id, embedded document or None) of a collection's manifests and sub-collections."""
    listed: list[Any] = []
    for key in ("collections", "manifests", "members", "items"):
        value = doc.get(key)
        if isinstance(value, list):
            listed += value
    for member in listed:
        ident = _id(member)
        if ident:
            yield ident, member if isinstance(member, dict) else None


def _canvases(doc: dict[str, Any], manifest: str) -> Iterator[CanvasImage]:
    manifest_id = _id(doc) or manifest
    rights = _rights(doc)
    statement = _required_statement(doc)
    if "sequences" in doc:  # Presentation 2.1
        canvases = [c for s in _list(doc.get("sequences")) for c in _list(_get(s, "canvases"))]
        for canvas in canvases:
            images = [_get(a, "resource") for a in _list(_get(canvas, "images"))]
            yield _canvas_image(manifest_id, canvas, images, rights, statement)
    else:  # Presentation 3.0
        for canvas in _list(doc.get("items")):
            bodies = [
                _get(annotation, "body")
                for page in _list(_get(canvas, "items"))
                for annotation in _list(_get(page, "items"))
                if _get(annotation, "motivation") in (None, "painting")
            ]
            yield _canvas_image(manifest_id, canvas, bodies, rights, statement)


def _canvas_image(
    manifest: str, canvas: Any, resources: list[Any], rights: str | None, statement: str | None
) -> CanvasImage:
    resource = _first_image(resources)
    service = _service(resource)
    return CanvasImage(
        manifest=manifest,
        canvas=_id(canvas) or "",
        label=flatten(_get(canvas, "label")),
        image_url=_id(resource),
        service=service,
        rights=rights,
        required_statement=statement,
    )


def _first_image(resources: list[Any]) -> Any:
    """The first image resource; a Choice gives its default (2.1) or first item (3.0)."""
    for resource in resources:
        for item in _list(resource):
            kind = str(_get(item, "type") or _get(item, "@type") or "")
            if kind in ("Choice", "oa:Choice"):
                item = _get(item, "default") or next(iter(_list(_get(item, "items"))), None)
            if _id(item):
                return item
    return None


def _service(resource: Any) -> str | None:
    for service in _list(_get(resource, "service")):
        kind = str(_get(service, "type") or _get(service, "@type") or "")
        profile = json.dumps(_get(service, "profile") or "") + json.dumps(_get(service, "@context") or "")
        if kind in _SERVICE_TYPES or "iiif.io/api/image" in profile or "level" in profile:
            ident = _id(service)
            if ident:
                return ident.rstrip("/")
    return None


def _rights(doc: dict[str, Any]) -> str | None:
    value = doc.get("rights") or doc.get("license")
    if isinstance(value, list):
        value = "; ".join(v for v in (_id(x) for x in value) if v)
    return _id(value) if not isinstance(value, str) else value


def _required_statement(doc: dict[str, Any]) -> str | None:
    statement = doc.get("requiredStatement")
    if isinstance(statement, dict):
        label, value = flatten(statement.get("label")), flatten(statement.get("value"))
        return f"{label}: {value}" if label and value else value or label
    return flatten(doc.get("attribution"))


def flatten(value: Any) -> str | None:
    """One string from a label: a string, a 3.0 language map, or 2.1 ``@value`` objects."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict) and ("@value" in value):
        return flatten(value["@value"])
    if isinstance(value, dict):  # 3.0 language map
        for key in ("en", "none", *value):
            if key in value:
                parts = [flatten(v) for v in _list(value[key])]
                text = "; ".join(p for p in parts if p)
                if text:
                    return text
        return None
    if isinstance(value, list):
        by_language: dict[str, list[str]] = {}
        for item in value:
            text = flatten(item)
            if text:
                lang = item.get("@language", "none") if isinstance(item, dict) else "none"
                by_language.setdefault(str(lang).split("-")[0], []).append(text)
        for key in ("en", "none", *by_language):
            if by_language.get(key):
                return "; ".join(by_language[key])
        return None
    return str(value)


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else None
