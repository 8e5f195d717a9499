"""Turning dropped files and folders into the list of images to tag."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

#: Ordinary image files (compared case-insensitively).
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif"}
)
#: HEIF family (phones): decoded through the pillow-heif plugin.
HEIF_EXTENSIONS: frozenset[str] = frozenset({".heic", ".heif", ".hif", ".avif"})

#: Camera raw formats: tagged from their embedded preview JPEG (rawpy); they own sidecars.
RAW_EXTENSIONS: frozenset[str] = frozenset(
    {".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".dng", ".raf", ".orf",
     ".rw2", ".pef", ".srw", ".x3f", ".3fr", ".iiq", ".erf", ".mrw", ".raw"}
)


@dataclass
class ScanResult:
    images: list[Path] = field(default_factory=list)
    #: (path, reason) for inputs that do not exist or cannot be listed.
    problems: list[tuple[Path, str]] = field(default_factory=list)


SUPPORTED_EXTENSIONS: frozenset[str] = IMAGE_EXTENSIONS | HEIF_EXTENSIONS | RAW_EXTENSIONS


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_EXTENSIONS and not path.name.startswith(".")


def scan(inputs: Iterable[str | os.PathLike[str]]) -> ScanResult:
    """Expand folders recursively (skipping hidden ones); keep order, drop duplicates.

    Photos keep the path the user sees (absolute, without ``..``; a symlinked photo is named
    by its link, so its sidecar goes next to the link, inside the tree the user named); the
    same file reached twice counts once. Symlinked folders are not followed (no loops, nothing
    outside the tree): one pointing outside the named folder, and a broken link, is reported.
    """
    result = ScanResult()
    seen: set[Path] = set()

    def add(path: Path) -> None:
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            result.images.append(Path(os.path.abspath(path)))

    for raw in inputs:
        path = Path(raw).expanduser()
        if path.is_dir():
            _walk(path, add, result)
        elif path.is_file():
            if is_supported(path):
                add(path)
            else:
                result.problems.append((path, f"not a supported image type ({path.suffix or 'no extension'})"))
        elif path.is_symlink():
            result.problems.append((path, f"a broken link (to {os.readlink(path)})"))
        else:
            result.problems.append((path, "no such file or folder"))
    return result


def _walk(top: Path, add: Callable[[Path], None], result: ScanResult) -> None:
    def on_error(err: OSError) -> None:
        result.problems.append((Path(err.filename or top), f"cannot list folder: {err.strerror}"))

    real_top = top.resolve()
    for root, dirs, files in os.walk(top, onerror=on_error):
        links = {d for d in dirs if os.path.islink(os.path.join(root, d))}
        for name in sorted(d for d in links if not d.startswith(".")):
            link = Path(root) / name
            target = link.resolve()
            if not target.is_dir():
                result.problems.append((link, f"a broken link (to {os.readlink(link)})"))
            elif not target.is_relative_to(real_top):
                result.problems.append((link, f"a link to the folder {target}, outside {top}: not followed "
                                              "(add that folder itself to tag it)"))
            # a link to a folder inside this one: its photos are found there
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in links)
        for name in sorted(files):
            candidate = Path(root) / name
            if not is_supported(candidate):
                continue
            if candidate.is_file():
                add(candidate)
            elif candidate.is_symlink():
                result.problems.append((candidate, f"a broken link (to {os.readlink(candidate)})"))
            else:
                result.problems.append((candidate, "not a regular file (a FIFO, device or socket)"))
