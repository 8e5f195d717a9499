"""Read a photo's keywords the way each photo app does: its files, in its order, its properties,
combined its way (``cliptagger.core.metadata.targets`` has the facts). Everything is read with
exiftool (``-j -G1 -struct``), an independent reader, from the photo and each sidecar name.

Each reader returns an ``AppView``: the keywords the app would show, as ``A|B|leaf`` paths
where it reads a hierarchical property, else flat names.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from cliptagger.core.metadata.targets import (
    HIERARCHICAL,
    IPTC_KEYWORDS,
    LAST_KEYWORD_XMP,
    SUBJECT,
    TAGS_LIST,
    XP_KEYWORDS,
    FileKind,
    file_kind,
)
from tests.xmp_readers import require

#: How each property separates levels (None: flat names).
SEPARATORS: dict[str, Optional[str]] = {HIERARCHICAL: "|", TAGS_LIST: "/", LAST_KEYWORD_XMP: "/", SUBJECT: None,
                                        IPTC_KEYWORDS: None, XP_KEYWORDS: ";"}


@dataclass(frozen=True)
class AppView:
    """What an app shows: keyword paths (``A|B|leaf``) and flat names, each as it reads them."""

    keywords: frozenset[str]

    def sees(self, keyword: str) -> bool:
        """The app shows ``keyword`` (``A|B|leaf``): the path, or its leaf where it reads flat names."""
        folded = {k.casefold() for k in self.keywords}
        return keyword.casefold() in folded or keyword.split("|")[-1].casefold() in folded


def fields(path: Path) -> dict[str, list[str]]:
    """exiftool's keyword properties of one file (empty when it does not exist)."""
    if not path.is_file():
        return {}
    done = subprocess.run([require("exiftool"), "-j", "-G1", "-struct", "-a", "-charset", "iptc=UTF8",
                           *(f"-{name}" for name in SEPARATORS), str(path)],
                          capture_output=True, text=True, timeout=60)
    if not done.stdout.strip():
        return {}
    data = json.loads(done.stdout)[0]
    found: dict[str, list[str]] = {}
    for name in SEPARATORS:
        value = data.get(name)
        values = value if isinstance(value, list) else [] if value is None else [value]
        if name == XP_KEYWORDS:  # one string, ';'-separated names
            values = [part for v in values for part in str(v).split(";")]
        cleaned = [str(v).strip() for v in values if str(v).strip()]
        if cleaned:
            found[name] = cleaned
    return found


def _paths(name: str, values: list[str]) -> set[str]:
    separator = SEPARATORS[name]
    if separator in ("/", "|"):
        return {"|".join(part.strip() for part in v.split(separator)) for v in values}
    return set(values)


def _first_non_empty(found: dict[str, list[str]], order: tuple[str, ...]) -> AppView:
    for name in order:
        if found.get(name):
            return AppView(frozenset(_paths(name, found[name])))
    return AppView(frozenset())


def _union(found: dict[str, list[str]], order: tuple[str, ...]) -> AppView:
    return AppView(frozenset(k for name in order for k in _paths(name, found.get(name, []))))


def ext_sidecar(photo: Path) -> Path:
    return photo.with_name(photo.name + ".xmp")


def adobe_sidecar(photo: Path) -> Path:
    return photo.with_name(photo.stem + ".xmp")


def _xmp_over(embedded: dict[str, list[str]], sidecar: dict[str, list[str]]) -> dict[str, list[str]]:
    """A sidecar's XMP replacing the photo's (the IPTC and EXIF of the photo stay)."""
    kept = {k: v for k, v in embedded.items() if not k.startswith("XMP-")}
    return {**kept, **sidecar} if sidecar else embedded


# ----------------------------------------------------------------------------- one reader per app


def lightroom(photo: Path) -> AppView:
    """Raw (and HEIC): ``IMG.xmp`` only; every other kind: embedded only. Hierarchy plus flat names."""
    raw = file_kind(photo) in (FileKind.RAW, FileKind.HEIC)
    return _union(fields(adobe_sidecar(photo)) if raw else fields(photo), (HIERARCHICAL, SUBJECT))


def capture_one(photo: Path) -> AppView:
    """``IMG.xmp`` when there is one (it wins), else embedded XMP and IPTC."""
    sidecar = fields(adobe_sidecar(photo))
    return _union(sidecar or fields(photo), (HIERARCHICAL, SUBJECT, IPTC_KEYWORDS))


DIGIKAM_ORDER = (TAGS_LIST, LAST_KEYWORD_XMP, HIERARCHICAL, SUBJECT, IPTC_KEYWORDS, XP_KEYWORDS)


def digikam(photo: Path, read_sidecars: bool = False) -> AppView:
    """Embedded (the ``IMG.ext.xmp`` sidecar's XMP over it with 'Read from sidecar' on); the
    first non-empty of TagsList, LastKeywordXMP, hierarchicalSubject, dc:subject, IPTC, XPKeywords."""
    found = fields(photo)
    if read_sidecars:
        found = _xmp_over(found, fields(ext_sidecar(photo)))
    return _first_non_empty(found, DIGIKAM_ORDER)


def digikam_with_sidecars(photo: Path) -> AppView:
    return digikam(photo, read_sidecars=True)


def darktable(photo: Path) -> AppView:
    """Its ``IMG.ext.xmp`` (hierarchicalSubject, else dc:subject); without one, what it imports
    from the photo (hierarchicalSubject, dc:subject, IPTC)."""
    sidecar = fields(ext_sidecar(photo))
    if sidecar:
        return _first_non_empty(sidecar, (HIERARCHICAL, SUBJECT))
    return _first_non_empty(fields(photo), (HIERARCHICAL, SUBJECT, IPTC_KEYWORDS))


def immich(photo: Path) -> AppView:
    """``IMG.ext.xmp``, else ``IMG.xmp``, over the photo's own; TagsList, else
    hierarchicalSubject, else IPTC Keywords; never dc:subject."""
    sidecar = fields(ext_sidecar(photo)) or fields(adobe_sidecar(photo))
    return _first_non_empty(_xmp_over(fields(photo), sidecar), (TAGS_LIST, HIERARCHICAL, IPTC_KEYWORDS))


def photoprism(photo: Path) -> AppView:
    """Sidecars (either name) and the photo: dc:subject and IPTC Keywords, merged."""
    found: dict[str, list[str]] = {}
    for source in (fields(photo), fields(ext_sidecar(photo)), fields(adobe_sidecar(photo))):
        for name, values in source.items():
            found.setdefault(name, []).extend(values)
    return _union(found, (SUBJECT, IPTC_KEYWORDS))


def embedded_only(order: tuple[str, ...], combine: Callable[..., AppView]) -> Callable[[Path], AppView]:
    return lambda photo: combine(fields(photo), order)


apple_photos = embedded_only((IPTC_KEYWORDS, SUBJECT), _union)
windows = embedded_only((SUBJECT, IPTC_KEYWORDS, XP_KEYWORDS), _union)
shotwell = embedded_only((HIERARCHICAL, SUBJECT, IPTC_KEYWORDS), _union)

#: Per target key (``targets.TARGET_KEYS``), its reader.
READERS: dict[str, Callable[[Path], AppView]] = {
    "lightroom": lightroom, "captureone": capture_one, "digikam": digikam,
    "digikam-sidecars": digikam_with_sidecars, "darktable": darktable, "apple-photos": apple_photos,
    "windows": windows, "immich": immich, "photoprism": photoprism, "shotwell": shotwell,
}
