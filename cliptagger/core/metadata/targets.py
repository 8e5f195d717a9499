"""Which photo app reads keywords from where: one table, so that the CLI, the app, the README
and the compatibility tests (``tests/app_readers.py``) agree.

Per app and kind of file: the places the app reads keywords from, the one cliptagger should
write first; which properties it reads and how it combines them; and the one line to tell
the user so that the app picks the keywords up. Facts from each app's documentation (see
``source``); where a fact is less certain it says so in ``note``.

Destinations: ``EMBEDDED`` (inside the photo), ``SIDECAR_EXT`` (``IMG.jpg.xmp``, darktable,
digiKam, exiftool) and ``SIDECAR_ADOBE`` (``IMG.xmp``, Adobe, Capture One). Property names are
exiftool's group:tag names (``XMP-lr:HierarchicalSubject``), which the tests read with.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from cliptagger.core.errors import CliptaggerError
from cliptagger.core.media.scan import HEIF_EXTENSIONS, RAW_EXTENSIONS
from cliptagger.core.metadata.sidecar_names import SidecarStyle


class Destination(str, Enum):
    EMBEDDED = "embedded"
    SIDECAR_EXT = "IMG.ext.xmp"
    SIDECAR_ADOBE = "IMG.xmp"


class FileKind(str, Enum):
    JPEG = "JPEG"
    TIFF = "TIFF"
    DNG = "DNG"
    PNG = "PNG"
    WEBP = "WebP"
    HEIC = "HEIC"
    RAW = "raw"


class Combination(str, Enum):
    FIRST_NON_EMPTY = "first non-empty"  # the first property with any keyword wins, the rest unread
    UNION = "union"                      # every property listed is read and merged


_SUFFIX_KINDS = {".jpg": FileKind.JPEG, ".jpeg": FileKind.JPEG, ".jpe": FileKind.JPEG, ".tif": FileKind.TIFF,
                 ".tiff": FileKind.TIFF, ".dng": FileKind.DNG, ".png": FileKind.PNG, ".webp": FileKind.WEBP}

HIERARCHICAL = "XMP-lr:HierarchicalSubject"
SUBJECT = "XMP-dc:Subject"
TAGS_LIST = "XMP-digiKam:TagsList"
LAST_KEYWORD_XMP = "XMP-microsoft:LastKeywordXMP"
IPTC_KEYWORDS = "IPTC:Keywords"
XP_KEYWORDS = "IFD0:XPKeywords"

E, EXT, ADOBE = Destination.EMBEDDED, Destination.SIDECAR_EXT, Destination.SIDECAR_ADOBE


def file_kind(path: Path) -> Optional[FileKind]:
    """The kind of a photo file by its name (None: one no table row speaks of, e.g. GIF)."""
    suffix = path.suffix.lower()
    if suffix in _SUFFIX_KINDS:
        return _SUFFIX_KINDS[suffix]
    if suffix in HEIF_EXTENSIONS:
        return FileKind.HEIC
    return FileKind.RAW if suffix in RAW_EXTENSIONS else None


def _every(*where: Destination) -> dict[FileKind, tuple[Destination, ...]]:
    return {kind: where for kind in FileKind}


@dataclass(frozen=True)
class AppTarget:
    key: str
    name: str
    #: Per kind of file: where the app reads keywords, cliptagger's choice first (empty: not read).
    reads: dict[FileKind, tuple[Destination, ...]]
    #: The properties it reads, in its order of precedence.
    properties: tuple[str, ...]
    combination: Combination
    #: What to do in the app so that it reads the keywords written.
    hint: str
    source: str
    note: str = ""

    def destination(self, path: Path) -> Optional[Destination]:
        """Where to write ``path``'s keywords for this app (None: it reads none for this kind)."""
        kind = file_kind(path)
        where = self.reads.get(kind, ()) if kind is not None else ()
        if kind is FileKind.RAW:  # cliptagger never writes into a proprietary raw file
            where = tuple(d for d in where if d is not Destination.EMBEDDED)
        return where[0] if where else None


TARGETS: tuple[AppTarget, ...] = (
    AppTarget("lightroom", "Lightroom Classic",
              {**_every(E), FileKind.RAW: (ADOBE,), FileKind.HEIC: (ADOBE,)},
              (HIERARCHICAL, SUBJECT), Combination.UNION,
              "in Lightroom Classic: select the photos, Metadata > Read Metadata from Files",
              "helpx.adobe.com/lightroom-classic/help/metadata-basics-actions.html",
              "JPEG, TIFF, PSD and DNG: embedded XMP only (a sidecar is ignored); raw: IMG.xmp only. "
              "PNG, WebP embedded and HEIC IMG.xmp, as Lightroom writes them (less certain)."),
    AppTarget("captureone", "Capture One", _every(ADOBE, E),
              (HIERARCHICAL, SUBJECT, IPTC_KEYWORDS), Combination.UNION,
              "in Capture One: select the images, Image > Load Metadata",
              "support.captureone.com (XMP sidecar synchronisation)",
              "Reads IMG.xmp sidecars (the sidecar wins over embedded metadata) and embedded XMP/IPTC."),
    # raw: cliptagger never writes into one, and this digiKam reads no sidecar: nothing it would see
    AppTarget("digikam", "digiKam", {**_every(E, EXT), FileKind.RAW: (E,)},
              (TAGS_LIST, LAST_KEYWORD_XMP, HIERARCHICAL, SUBJECT, IPTC_KEYWORDS, XP_KEYWORDS),
              Combination.FIRST_NON_EMPTY,
              "in digiKam: select the items, Item > Reread Metadata From File",
              "docs.digikam.org/en/setup_application/metadata_settings.html",
              "Sidecars are read only with Settings > Configure digiKam > Metadata > Sidecars > "
              "'Read from sidecar files' on (off by default): see digikam-sidecars."),
    AppTarget("digikam-sidecars", "digiKam (reading sidecars)", _every(EXT, E),
              (TAGS_LIST, LAST_KEYWORD_XMP, HIERARCHICAL, SUBJECT, IPTC_KEYWORDS, XP_KEYWORDS),
              Combination.FIRST_NON_EMPTY,
              "in digiKam: turn on Configure digiKam > Metadata > Sidecars > 'Read from sidecar files', "
              "then Item > Reread Metadata From File",
              "docs.digikam.org/en/setup_application/metadata_settings.html"),
    AppTarget("darktable", "darktable", _every(EXT, E), (HIERARCHICAL, SUBJECT, IPTC_KEYWORDS),
              Combination.FIRST_NON_EMPTY,
              "in darktable: lighttable > history stack > load sidecar file (or turn on 'look for updated "
              "XMP files on startup')",
              "docs.darktable.org/usermanual/stable/en/overview/sidecar-files/sidecar/",
              "Its own IMG.ext.xmp (hierarchicalSubject, else dc:subject); embedded XMP and IPTC on import."),
    AppTarget("apple-photos", "Apple Photos", _every(E), (IPTC_KEYWORDS, SUBJECT), Combination.UNION,
              "Apple Photos reads keywords when a photo is imported: import the photos again",
              "support.apple.com/guide/photos (keywords)", "Embedded only; no sidecars."),
    AppTarget("windows", "Windows Explorer / Photos", _every(E), (SUBJECT, IPTC_KEYWORDS, XP_KEYWORDS),
              Combination.UNION,
              "in Windows: the file's Properties > Details > Tags",
              "learn.microsoft.com/windows/win32/wic/photo-metadata-policies",
              "Embedded only: dc:subject, IPTC Keywords and XPKeywords merged."),
    AppTarget("immich", "Immich", _every(EXT, ADOBE, E), (TAGS_LIST, HIERARCHICAL, IPTC_KEYWORDS),
              Combination.FIRST_NON_EMPTY,
              "in Immich: Administration > Jobs > Sidecar Metadata > Sync, then Extract Metadata",
              "immich.app/docs/features/xmp-sidecars and the tags import in its metadata service",
              "Reads IMG.ext.xmp or IMG.xmp; never dc:subject."),
    AppTarget("photoprism", "PhotoPrism", _every(EXT, ADOBE, E), (SUBJECT, IPTC_KEYWORDS), Combination.UNION,
              "in PhotoPrism: Library > Index, with 'Complete Rescan'",
              "docs.photoprism.app/developer-guide/media/xmp/", "Sidecars and embedded metadata."),
    AppTarget("shotwell", "Shotwell", _every(E), (HIERARCHICAL, SUBJECT, IPTC_KEYWORDS), Combination.UNION,
              "Shotwell reads keywords when importing: import the photos again",
              "wiki.gnome.org/Apps/Shotwell", "Embedded only (the properties it reads are less certain)."),
    AppTarget("custom", "Other (custom)", _every(EXT, ADOBE), (HIERARCHICAL, TAGS_LIST, SUBJECT),
              Combination.UNION,
              "point your app at the sidecars (IMG.ext.xmp by default, IMG.xmp with --sidecar-style adobe)",
              "cliptagger", "The sidecar style setting decides the name of new sidecars."),
)

TARGET_KEYS: tuple[str, ...] = tuple(target.key for target in TARGETS)
DEFAULT_TARGET = "custom"


def target(key: str) -> AppTarget:
    for found in TARGETS:
        if found.key == key.casefold():
            return found
    raise CliptaggerError(f"No photo app called {key!r}; known: {', '.join(TARGET_KEYS)}.")


# ----------------------------------------------------------------------------- what to write where


class EmbeddedWriterMissing(CliptaggerError):
    """A target that needs keywords inside the photos, in a build that cannot write them yet."""


def embedded_writer() -> Optional[Callable[..., Any]]:
    """The writer that puts keywords inside photos (``embedded.write_embedded``:
    ``(assignments, EmbedOptions) -> WriteReport``), or None where ExifTool is missing: then a
    target that reads some photos only from inside the file cannot be served."""
    from cliptagger.core.metadata.exiftool_process import exiftool_available

    if not exiftool_available():
        return None
    from cliptagger.core.metadata.embedded import write_embedded

    return write_embedded


_STYLES = {Destination.SIDECAR_EXT: SidecarStyle.EXT, Destination.SIDECAR_ADOBE: SidecarStyle.ADOBE}


def sidecar_style(app: AppTarget, default: SidecarStyle = SidecarStyle.EXT) -> SidecarStyle:
    """The sidecar name ``app`` reads (one per app, whatever the kind of file: a test checks),
    ``default`` for ``custom`` and for apps that read no sidecar."""
    if app.key == DEFAULT_TARGET:
        return default
    for where in app.reads.values():
        for destination in where:
            if destination in _STYLES:
                return _STYLES[destination]
    return default


@dataclass
class WritePlan:
    """The photos of one write, by where their keywords go for the chosen app."""

    style: SidecarStyle
    sidecars: list[Path]
    embedded: list[Path]
    #: Photos the app reads no keywords of (a GIF for Lightroom): they get sidecars, and are named.
    unread: list[Path]


def where_to_write(app: AppTarget, paths: Iterable[Path], default: SidecarStyle = SidecarStyle.EXT) -> WritePlan:
    """Where each photo's keywords go for ``app``: one sidecar style for all of them (so that one
    write is one journal batch, one undo), or inside the photo."""
    plan = WritePlan(sidecar_style(app, default), [], [], [])
    for path in paths:
        where = app.destination(path) if app.key != DEFAULT_TARGET else Destination.SIDECAR_EXT
        if where is Destination.EMBEDDED:
            plan.embedded.append(path)
        else:
            (plan.unread if where is None else plan.sidecars).append(path)
    return plan


def embedded_refusal(app: AppTarget, paths: list[Path]) -> str:
    """Why a write for ``app`` cannot go ahead in a build without the embedded writer."""
    kinds = sorted({(file_kind(p) or FileKind.JPEG).value for p in paths})
    return (f"{app.name} reads keywords of {', '.join(kinds)} files only from inside the photo, and writing "
            f"into photos needs ExifTool, which is not installed ({len(paths)} photo{'s' if len(paths) != 1 else ''}). "
            f"Write sidecars anyway with --sidecars-anyway ({app.name} will not see those), or choose "
            "another --target.")


def where_cell(app: AppTarget) -> str:
    """Where ``app`` reads keywords, kinds of file with the same places grouped (first: where
    cliptagger writes), e.g. ``JPEG, TIFF: embedded; raw: `IMG.xmp```."""
    groups: dict[tuple[Destination, ...], list[str]] = {}
    for kind in FileKind:
        groups.setdefault(app.reads.get(kind, ()), []).append(kind.value)
    def places(where: tuple[Destination, ...]) -> str:
        return " or ".join(d.value if d is E else f"`{d.value}`" for d in where) or "none"
    if len(groups) == 1:
        return places(next(iter(groups)))
    return "; ".join(f"{', '.join(kinds)}: {places(where)}" for where, kinds in groups.items())


def markdown_table() -> str:
    """The README's table: per app, where keywords go, what it reads, what to do next."""
    rows = ["| app (`--target`) | where it reads keywords (cliptagger writes the first) | reads | then |",
            "|---|---|---|---|"]
    for app in TARGETS:
        reads = f"{app.combination.value}: " + ", ".join(p.replace("XMP-", "") for p in app.properties)
        rows.append(f"| {app.name} (`{app.key}`) | {where_cell(app)} | {reads} | {app.hint} |")
    return "\n".join(rows) + "\n"
