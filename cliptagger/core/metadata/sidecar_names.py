"""Which sidecar belongs to which photo: ``IMG.ext.xmp`` (darktable, digiKam, exiftool) or
``IMG.xmp`` (Adobe; a RAW+JPEG pair shares it), found whatever its letter case.

Names can collide. ``a.jpg.xmp`` is the sidecar of ``a.jpg`` and also the Adobe-style name of
``a.jpg.png``; on a case-sensitive disk ``a.jpg`` and ``a.JPG`` are two photos. A sidecar named
after another photo in the folder (``<that photo's name>.xmp``, exact case) is that photo's:
no other photo adopts it or is given its name, so no photo ever rewrites another's sidecar. A
case-insensitive match is used only when it is the one candidate.
"""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import Optional

from cliptagger.core.media.scan import is_supported
from cliptagger.core.metadata.containment import SIDECAR_SUFFIX


class SidecarStyle(str, Enum):
    EXT = "ext"      # IMG_1.CR2.xmp
    ADOBE = "adobe"  # IMG_1.xmp


class FolderListing:
    """Each folder's file names, exact and by lower case (letter case varies), read once per
    operation: a batch over a 20,000-photo folder lists it once, not once per photo."""

    def __init__(self) -> None:
        self._exact: dict[Path, set[str]] = {}
        self._lower: dict[Path, dict[str, list[str]]] = {}

    def _read(self, folder: Path) -> None:
        try:
            names = os.listdir(folder)
        except OSError:
            names = []
        self._exact[folder] = set(names)
        lower: dict[str, list[str]] = {}
        for name in sorted(names):
            lower.setdefault(name.lower(), []).append(name)
        self._lower[folder] = lower

    def exact(self, folder: Path) -> set[str]:
        if folder not in self._exact:
            self._read(folder)
        return self._exact[folder]

    def find(self, folder: Path, name: str) -> Optional[str]:
        """The real name of ``name`` in ``folder``: exact case first, else the one file that
        matches ignoring case (None: none, or several that differ only in case)."""
        if name in self.exact(folder):
            return name
        matches = self._lower[folder].get(name.lower(), [])
        return matches[0] if len(matches) == 1 else None


def _owner(sidecar_name: str, folder: Path, listing: FolderListing) -> Optional[str]:
    """The photo whose ``IMG.ext.xmp`` sidecar ``sidecar_name`` is, if that photo is in the folder."""
    base = sidecar_name[:-len(SIDECAR_SUFFIX)]
    return base if base in listing.exact(folder) and is_supported(Path(base)) else None


def existing_sidecars(image: Path, listing: Optional[FolderListing] = None) -> list[Path]:
    """Existing sidecars of ``image``: ``IMG.ext.xmp`` first, then ``IMG.xmp``; never one that
    is another photo's ``IMG.ext.xmp``."""
    listing = listing or FolderListing()
    found = []
    for candidate in (image.name + SIDECAR_SUFFIX, image.stem + SIDECAR_SUFFIX):
        real = listing.find(image.parent, candidate)
        if real is None:
            continue
        owner = _owner(real, image.parent, listing)
        if owner is not None and owner != image.name:
            continue  # another photo's own sidecar (a.jpg.xmp for a.jpg.png, a.JPG.xmp for a.jpg)
        found.append(image.parent / real)
    return found


def sidecar_path(image: Path, style: SidecarStyle = SidecarStyle.EXT,
                 listing: Optional[FolderListing] = None) -> Path:
    """The sidecar to update (an existing one wins), or the one to create."""
    listing = listing or FolderListing()
    existing = existing_sidecars(image, listing)
    preferred = image.name + SIDECAR_SUFFIX if style is SidecarStyle.EXT else image.stem + SIDECAR_SUFFIX
    for path in existing:
        if path.name.lower() == preferred.lower():
            return path
    if existing:
        return existing[0]
    owner = _owner(preferred, image.parent, listing)
    if owner is not None and owner != image.name:  # the Adobe name is another photo's: use ours
        return image.parent / (image.name + SIDECAR_SUFFIX)
    return image.parent / preferred


def siblings_sharing(image: Path, listing: FolderListing) -> list[Path]:
    """Other images in the folder whose Adobe-style sidecar would be the same file."""
    stem = image.stem.lower()
    return [
        image.parent / real
        for real in sorted(listing.exact(image.parent))
        if real != image.name and Path(real).stem.lower() == stem and is_supported(Path(real))
    ]
