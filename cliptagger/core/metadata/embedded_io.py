"""Reading a photo's embedded XMP packet and its legacy keyword lists through ExifTool, and the
ExifTool arguments that write them back.

XMP: the packet is read whole (``-b -XMP``). A JPEG whose XMP did not fit one 64 KB segment
keeps the rest in "extended XMP" segments; ExifTool then reads the merged properties into an
XMP file for us. Writing: a packet that fits one segment goes in as it is (``-XMP<=packet``,
byte for byte as cliptagger's faithful serializer made it); a larger one into a JPEG is
copied in property by property, which is how ExifTool splits it into extended XMP.

Legacy lists (MWG "Guidelines for Handling Image Metadata" 2.0, keywords): IPTC IIM Keywords
and EXIF XPKeywords are kept in step with dc:subject only in files that already have them;
they are never added. IPTC values are written as UTF-8 (CodedCharacterSet set to UTF-8 when
a non-ASCII keyword needs it and none was declared); a keyword longer than IPTC's 64 bytes
stays in XMP only, with a message.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from cliptagger.core.metadata.embedded_checks import EmbedFormat
from cliptagger.core.metadata.exiftool_process import ExifTool
from cliptagger.core.metadata.xmp import MergeOutcome, fold, leaf
from cliptagger.core.storage import paths

#: The most a JPEG APP1 XMP segment holds (65533 - the 29-byte namespace header).
MAX_STANDARD_XMP = 65502
IPTC_KEYWORD_BYTES = 64
UTF8_ESCAPE = "\x1b%G"


class EmbeddedReadError(ValueError):
    """ExifTool could not read the photo's metadata (the message says why)."""


def read_packet(exiftool: ExifTool, photo: Path) -> Optional[bytes]:
    """The photo's XMP packet (merged with its extended XMP), or None when it has none."""
    reply = exiftool.execute("-b", "-XMP", str(photo))
    if reply.errors:
        raise EmbeddedReadError("; ".join(reply.errors))
    packet = reply.stdout
    if b"HasExtendedXMP" not in packet:
        return packet or None
    folder = scratch_folder()
    handle, name = tempfile.mkstemp(prefix="extended-", suffix=".xmp", dir=folder)
    os.close(handle)
    os.unlink(name)  # ExifTool creates it (it refuses to overwrite)
    try:
        reply = exiftool.execute("-m", "-tagsfromfile", str(photo), "-XMP:all", name)
        if reply.errors or not os.path.exists(name):
            raise EmbeddedReadError("its extended XMP cannot be read: " + "; ".join(reply.errors))
        return Path(name).read_bytes()
    finally:
        if os.path.exists(name):
            os.unlink(name)


def scratch_folder() -> Path:
    """cliptagger's own folder for packets handed to ExifTool."""
    folder = paths.cache_dir() / "embed"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class LegacyKeywords:
    """IPTC Keywords and EXIF XPKeywords as found (None: the file has no such list)."""

    iptc: Optional[list[str]] = None
    iptc_utf8: bool = False
    iptc_charset_declared: bool = False
    xp: Optional[list[str]] = None


def read_legacy(exiftool: ExifTool, photo: Path) -> LegacyKeywords:
    reply = exiftool.execute("-j", "-G1", "-charset", "iptc=UTF8", "-IPTC:Keywords", "-IPTC:CodedCharacterSet",
                             "-IFD0:XPKeywords", "-n", str(photo))
    try:
        found = json.loads(reply.stdout.decode("utf-8", "replace"))[0]
    except (ValueError, IndexError, TypeError):
        raise EmbeddedReadError(reply.stderr.strip() or "no answer") from None
    legacy = LegacyKeywords()
    if "IPTC:Keywords" in found:
        legacy.iptc = _as_list(found["IPTC:Keywords"])
    charset = found.get("IPTC:CodedCharacterSet")
    legacy.iptc_charset_declared = charset is not None
    legacy.iptc_utf8 = charset == UTF8_ESCAPE
    if "IFD0:XPKeywords" in found:
        legacy.xp = [k.strip() for k in str(found["IFD0:XPKeywords"]).split(";") if k.strip()]
    return legacy


def _as_list(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


@dataclass
class LegacyPlan:
    """What to write to the legacy lists (None: leave that list alone)."""

    iptc: Optional[list[str]] = None
    set_utf8: bool = False
    xp: Optional[list[str]] = None
    messages: list[str] = field(default_factory=list)

    @property
    def changes(self) -> bool:
        return self.iptc is not None or self.xp is not None


def plan_legacy(legacy: LegacyKeywords, outcome: MergeOutcome, subject_now: Iterable[str], name: str) -> LegacyPlan:
    """Add the leaves this write added, take out the ones it removed (unless dc:subject still
    has them: then they are the user's), in the lists the file already has."""
    plan = LegacyPlan()
    keep = {fold(s) for s in subject_now}
    added = [leaf(k) for k in outcome.added]
    removed = {fold(leaf(k)) for k in outcome.removed} - keep
    if legacy.iptc is not None:
        values, changed = _merged(legacy.iptc, added, removed)
        fits = []
        for value in values:
            if len(value.encode("utf-8")) > IPTC_KEYWORD_BYTES:
                if fold(value) in {fold(a) for a in added}:
                    plan.messages.append(f"{name}: keyword '{value}' is longer than IPTC's 64 bytes; "
                                         "written to XMP only")
                    continue
            fits.append(value)
        if fits != legacy.iptc and changed:
            plan.iptc = fits
            if any(not v.isascii() for v in fits) and not legacy.iptc_utf8:
                if legacy.iptc_charset_declared:
                    plan.iptc = [v for v in fits if v.isascii() or v in legacy.iptc]
                    plan.messages.append(f"{name}: its IPTC block declares a character set other than "
                                         "UTF-8; non-ASCII keywords written to XMP only")
                else:
                    plan.set_utf8 = True
    if legacy.xp is not None:
        values, changed = _merged(legacy.xp, added, removed)
        if changed and values != legacy.xp:
            plan.xp = values
    return plan


def _merged(existing: list[str], added: list[str], removed: set[str]) -> tuple[list[str], bool]:
    present = {fold(v) for v in existing}
    values = [v for v in existing if fold(v) not in removed]
    for keyword in added:
        if fold(keyword) not in present:
            present.add(fold(keyword))
            values.append(keyword)
    return values, values != existing


def legacy_arguments(plan: LegacyPlan) -> list[str]:
    arguments: list[str] = []
    if plan.iptc is not None:
        arguments += ["-charset", "iptc=UTF8"]
        if plan.set_utf8:
            arguments.append("-IPTC:CodedCharacterSet=UTF8")
        arguments.append("-IPTC:Keywords=")
        arguments += [f"-IPTC:Keywords={value}" for value in plan.iptc]
    if plan.xp is not None:
        arguments.append("-IFD0:XPKeywords=" + ";".join(plan.xp))
    return arguments


def xmp_arguments(packet_file: Path, packet_size: int, fmt: EmbedFormat) -> list[str]:
    """ExifTool arguments that put the packet in ``packet_file`` into the photo."""
    if fmt is EmbedFormat.JPEG and packet_size > MAX_STANDARD_XMP:
        # -m: ExifTool otherwise stops reading a list at 1000 items (a "minor" warning)
        return ["-m", "-XMP:all=", "-tagsfromfile", str(packet_file), "-XMP:all"]
    return [f"-XMP<={packet_file}"]
