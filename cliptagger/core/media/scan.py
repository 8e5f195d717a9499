"""Turning dropped files and folders into the list of images to tag."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

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
    """Expand folders recursively (skipping hidden ones); keep order, drop duplicates."""
    result = ScanResult()
    seen: set[Path] = set()

    def add(path: Path) -> None:
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            result.images.append(resolved)

    for raw in inputs:
        path = Path(raw).expanduser()
        if path.is_dir():
            def on_error(err: OSError, folder: Path = path) -> None:
                result.problems.append((Path(err.filename or folder), f"cannot list folder: {err.strerror}"))

            for root, dirs, files in os.walk(path, onerror=on_error):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    candidate = Path(root) / name
                    if is_supported(candidate):
                        add(candidate)
        elif path.is_file():
            if is_supported(path):
                add(path)
            else:
                result.problems.append((path, f"not a supported image type ({path.suffix or 'no extension'})"))
        else:
            result.problems.append((path, "no such file or folder"))
    return result
