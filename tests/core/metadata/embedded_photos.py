"""Photos full of metadata for the embedded-keyword tests, built with Pillow and ExifTool, and
the independent readers (the ``exiftool`` and ``exiv2`` programs, Pillow) the tests judge by."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed")
needs_exiv2 = pytest.mark.skipif(shutil.which("exiv2") is None, reason="exiv2 not installed")

#: A Nikon type-2 maker note: header, its own TIFF header, one entry (MakerNoteVersion "0210").
NIKON_MAKERNOTE = (b"Nikon\x00\x02\x10\x00\x00MM\x00*\x00\x00\x00\x08\x00\x01"
                   b"\x00\x01\x00\x07\x00\x00\x00\x040210\x00\x00\x00\x00")

#: What a keyword write may change, by exiftool -G1 name and by exiv2 key prefix.
KEYWORD_TAGS = {"XMP-dc:Subject", "XMP-lr:HierarchicalSubject", "XMP-digiKam:TagsList", "XMP-x:XMPToolkit",
                "XMP-xmpNote:HasExtendedXMP", "IPTC:Keywords", "IPTC:CodedCharacterSet",
                "IPTC:EnvelopeRecordVersion", "Photoshop:IPTCDigest", "IFD0:XPKeywords",
                "RIFF:WebP_Flags"}
KEYWORD_EXIV2 = ("Xmp.dc.subject", "Xmp.lr.hierarchicalSubject", "Xmp.digiKam.TagsList", "Xmp.cliptagger.",
                 "Iptc.Application2.Keywords", "Iptc.Envelope.", "Exif.Image.XPKeywords", "Xmp.xmpNote.",
                 "Exif.Image.XMLPacket")  # tag 700: the XMP packet itself, in TIFF and DNG


def _picture(size=(96, 64)):
    from PIL import Image

    return Image.effect_mandelbrot(size, (-2.0, -1.2, 1.0, 1.2), 60).convert("RGB")


def _icc() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _exif(with_makernote: bool = True) -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "NIKON CORPORATION"
    exif[0x0110] = "NIKON D850"
    exif[0x0131] = "Test firmware"
    if with_makernote:
        exif.get_ifd(0x8769)[0x927C] = NIKON_MAKERNOTE
    exif.get_ifd(0x8769)[0x9003] = "2024:05:01 10:00:00"
    return exif.tobytes()


def exiftool_run(*arguments: str) -> str:
    done = subprocess.run(["exiftool", *arguments], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def rich_jpeg(path: Path, iptc_keywords: tuple[str, ...] = ("mine",)) -> Path:
    """EXIF + maker note + ICC + IPTC (City, Keywords) + XMP (title) + an MPF preview image."""
    picture = _picture()
    picture.save(path, format="MPO", save_all=True, append_images=[picture.resize((48, 32))],
                 exif=_exif(), icc_profile=_icc(), quality=90)
    arguments = ["-q", "-overwrite_original", "-IPTC:City=Lisbon", "-XMP-dc:Title=Tram 28",
                 "-XMP-photoshop:Credit=Ana"]
    arguments += [f"-IPTC:Keywords={k}" for k in iptc_keywords]
    exiftool_run(*arguments, str(path))
    return path


def plain_tiff(path: Path) -> Path:
    _picture().save(path, format="TIFF", exif=_exif(with_makernote=False), icc_profile=_icc())
    exiftool_run("-q", "-overwrite_original", "-IFD0:Artist=Ana", "-XMP-dc:Title=Tram 28", str(path))
    return path


def tiny_dng(path: Path) -> Path:
    """A TIFF-based DNG (uncompressed RGB): what ExifTool calls DNG, Pillow still decodes."""
    tiff = path.with_suffix(".tif")
    _picture().save(tiff, format="TIFF")
    exiftool_run("-q", "-overwrite_original", "-DNGVersion=1.4.0.0", "-DNGBackwardVersion=1.1.0.0",
                 "-UniqueCameraModel=cliptagger test", "-IFD0:Make=Test", str(tiff))
    tiff.rename(path)
    return path


def plain_png(path: Path) -> Path:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "a PNG comment")
    _picture().save(path, format="PNG", pnginfo=info, icc_profile=_icc(), exif=_exif(with_makernote=False))
    return path


def plain_webp(path: Path) -> Path:
    _picture().save(path, format="WEBP", icc_profile=_icc(), exif=_exif(with_makernote=False), quality=90)
    return path


def exiftool_tags(path: Path) -> dict:
    """Every tag, as the exiftool program reads it (not cliptagger's stay-open process)."""
    found = json.loads(exiftool_run("-j", "-G1", "-a", "-struct", "-n", str(path)))[0]
    return {k: v for k, v in found.items()
            if k.split(":")[0] not in ("System", "File", "ExifTool", "Composite", "XMP-cliptagger")
            and k != "SourceFile"}


def foreign_exiftool(path: Path) -> dict:
    return {k: v for k, v in exiftool_tags(path).items()
            if k not in KEYWORD_TAGS and not k.split(":")[-1].endswith(("Offset", "Offsets", "MPImageStart", "MediaDataSize"))}


def exiv2_lines(path: Path) -> list[str]:
    """exiv2's print of every metadatum (EXIF, IPTC, XMP), with its values."""
    done = subprocess.run(["exiv2", "-q", "-pa", str(path)], capture_output=True, text=True, check=False)
    return done.stdout.splitlines()


def foreign_exiv2(path: Path) -> list[str]:
    return [line for line in exiv2_lines(path)
            if not line.startswith(KEYWORD_EXIV2) and not line.split(" ", 1)[0].endswith(POINTERS)]


#: Where a block lies, not what it says (a TIFF's directories and strips move when one grows).
POINTERS = ("Offsets", "Offset", "ExifTag", "GPSTag", "InteroperabilityTag", "MPImageStart")


def keywords_by_exiftool(path: Path, tag: str = "XMP-dc:Subject") -> list[str]:
    value = exiftool_tags(path).get(tag, [])
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def keywords_by_exiv2(path: Path, key: str = "Xmp.dc.subject") -> list[str]:
    done = subprocess.run(["exiv2", "-q", "-K", key, "-Pv", str(path)], capture_output=True, text=True, check=False)
    return [v.strip() for line in done.stdout.splitlines() for v in line.split(",") if v.strip()]


def pixels(path: Path) -> bytes:
    from PIL import Image

    with Image.open(path) as image:
        return image.convert("RGB").tobytes()


def pixels_of_bytes(data: bytes) -> bytes:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB").tobytes()


def dng_with_raw_subifd(path: Path) -> tuple[Path, bytes]:
    """A DNG laid out like a camera's: IFD0 holds an 8x8 RGB preview, a SubIFD the 16x16
    16-bit CFA raw image (which Pillow never reads). Returns (path, the raw bytes)."""
    import os
    import struct

    preview = bytes(range(192))
    raw = os.urandom(512)

    def entry(tag, kind, count, value):
        if isinstance(value, bytes):
            return struct.pack("<HHI4s", tag, kind, count, value.ljust(4, b"\0"))
        return struct.pack("<HHII", tag, kind, count, value) if kind == 4 else \
            struct.pack("<HHIHH", tag, kind, count, value, 0)

    ifd0_at, sub_at = 8, 8 + 2 + 12 * 12 + 4
    bits_at = sub_at + 2 + 12 * 9 + 4
    preview_at = bits_at + 6
    raw_at = preview_at + len(preview)
    ifd0 = [entry(254, 4, 1, 1), entry(256, 3, 1, 8), entry(257, 3, 1, 8), entry(258, 3, 3, bits_at),
            entry(259, 3, 1, 1), entry(262, 3, 1, 2), entry(273, 4, 1, preview_at), entry(277, 3, 1, 3),
            entry(278, 3, 1, 8), entry(279, 4, 1, len(preview)), entry(330, 4, 1, sub_at),
            entry(50706, 1, 4, b"\x01\x04\x00\x00")]
    ifd0[3] = struct.pack("<HHII", 258, 3, 3, bits_at)
    sub = [entry(254, 4, 1, 0), entry(256, 3, 1, 16), entry(257, 3, 1, 16), entry(258, 3, 1, 16),
           entry(259, 3, 1, 1), entry(262, 3, 1, 32803), entry(273, 4, 1, raw_at), entry(277, 3, 1, 1),
           entry(279, 4, 1, len(raw))]
    data = (b"II*\0" + struct.pack("<I", ifd0_at)
            + struct.pack("<H", len(ifd0)) + b"".join(ifd0) + struct.pack("<I", 0)
            + struct.pack("<H", len(sub)) + b"".join(sub) + struct.pack("<I", 0)
            + struct.pack("<HHH", 8, 8, 8) + preview + raw)
    assert len(b"II*\0") + 4 + 2 + 12 * 12 + 4 == sub_at
    path.write_bytes(data)
    exiftool_run("-q", "-overwrite_original", "-UniqueCameraModel=cliptagger test", "-IFD0:Make=Test", str(path))
    return path, raw
