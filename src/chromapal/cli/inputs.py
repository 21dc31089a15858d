"""Several inputs for the picture commands: files, folders, globs, URLs and @lists, as ``batch`` takes them.

One plain input (a file, a URL or ``-``) keeps ``-o FILE``; anything else (several
inputs, a folder, a glob, an @list) makes ``-o`` a folder that receives one file per
image, named after it. One bad image never stops the rest: its error is printed on one
line and the run goes on; the exit status is 1 if any image failed.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import unquote

import click

#: Most images one picture command takes (after folders and globs are expanded).
MAX_IMAGES = 100_000


def is_single(images: Iterable[str]) -> bool:
    """True for one file, URL or ``-`` (``-o`` is then a file), False when ``-o`` is a folder."""
    images = list(images)
    if len(images) != 1:
        return False
    image = images[0]
    if image == "-" or "://" in image:
        return True
    if image.startswith("@") or os.path.isdir(image):
        return False
    return os.path.exists(image) or not glob.has_magic(image)


def expand_images(images: Iterable[str]) -> list[str]:
    """The images that INPUTS name (see `chromapal.sources.expand_inputs`); ``-`` kept as is.

    Raises ``click.ClickException`` (exit 1) when nothing matches or there are more than
    `MAX_IMAGES`.
    """
    from ..errors import PaletteError
    from ..sources import expand_inputs

    images = list(images)
    found: list[str] = []
    try:
        for item in images:
            found += ["-"] if item == "-" else expand_inputs([item])
    except PaletteError as exc:
        raise click.ClickException(str(exc)) from exc
    found = list(dict.fromkeys(found))
    if not found:
        raise click.ClickException(f"{' '.join(images)}: no image files match")
    if len(found) > MAX_IMAGES:
        raise click.ClickException(f"{len(found)} images: more than {MAX_IMAGES:,} in one run")
    return found


def stem(image: str) -> str:
    """A file name stem for IMAGE: the file's, the last part of a URL's path, or ``stdin``."""
    if image == "-":
        return "stdin"
    if "://" in image:
        path = unquote(image.split("://", 1)[1].split("?", 1)[0].split("#", 1)[0])
        image = path.rstrip("/").rsplit("/", 1)[-1] or "image"
    name = Path(image).stem or "image"
    return "".join(c if c.isalnum() or c in "-_.+" else "_" for c in name)[:100]


def output_folder(output: str) -> Path:
    """``-o`` as the folder of a run over several images, created if missing (usage error if it cannot be)."""
    folder = Path(output)
    if folder.exists() and not folder.is_dir():
        raise click.UsageError(f"{output}: with several images -o names a folder, and this is a file")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.UsageError(f"{output}: cannot create the folder ({exc.strerror or exc})") from exc
    if not os.access(folder, os.W_OK):
        raise click.UsageError(f"{output}: folder is not writable")
    return folder


def targets(images: list[str], folder: Path, suffix: str) -> list[tuple[str, Path]]:
    """(image, output file) pairs: ``FOLDER/STEM.SUFFIX``, with ``-2``, ``-3`` ... for repeated stems."""
    seen: dict[str, int] = {}
    pairs = []
    for image in images:
        name = stem(image)
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name}-{seen[name]}"
        pairs.append((image, folder / f"{name}{suffix}"))
    return pairs


def plan(images: tuple[str, ...], output: str, *, allowed: Iterable[str], fmt: str) -> list[tuple[str, Path]]:
    """(image, output file) for every image the command's INPUTS name, checked before any work.

    One plain input with ``-o FILE``: that file (its extension among `allowed`). Otherwise,
    or when ``-o`` is a folder (exists, or ends with ``/``): ``FOLDER/STEM.FMT`` per image.
    """
    from .common import output_path

    folder_given = output.endswith(("/", os.sep)) or os.path.isdir(output)
    if is_single(images) and not folder_given:
        return [(images[0], output_path(output, allowed=allowed, inputs=images))]
    found = expand_images(images)
    pairs = targets(found, output_folder(output), f".{fmt}")
    inputs = {Path(image).resolve() for image in found if image != "-" and "://" not in image}
    for _, target in pairs:
        if target.exists() and target.resolve() in inputs:
            raise click.UsageError(f"{target}: refusing to overwrite the input image")
    return pairs


def run_each(images: list[str], work: Callable[[str], None]) -> int:
    """Call ``work(image)`` for every image; print each failure on one line; return the failures."""
    failed = 0
    for image in images:
        try:
            work(image)
        except click.ClickException as exc:
            if isinstance(exc, click.UsageError) and len(images) == 1:
                raise
            click.echo(f"Error: {exc.format_message()}", err=True)
            failed += 1
    return failed
