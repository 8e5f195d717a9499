"""Reading one image file into an upright 8-bit RGB picture, or a clear reason why not.

Handles EXIF orientation, transparency (composited on white, as a viewer shows it),
palette, CMYK, greyscale and 16-bit images. Refuses decompression bombs before decoding.
"""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path
from typing import Optional

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from cliptagger.core.errors import ImageDecodeError
from cliptagger.core.media.scan import RAW_EXTENSIONS

try:  # HEIC/HEIF (and AVIF where Pillow lacks it) through the maintained libheif plugin
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_AVAILABLE = True
except ImportError:  # optional at run time: those files then get a clear per-file error
    HEIF_AVAILABLE = False

#: Larger images are refused as likely decompression bombs (150 MP medium format still fits).
MAX_PIXELS = 250_000_000
#: Longer side : shorter side. The model's resize scales the *shorter* side to its input
#: size (224 px), so a 60000x1 strip would become 13 million x 224 pixels (3 GB). At 50:1
#: the resized picture stays under 8 MB; any real panorama fits, and beyond it the model's
#: centre crop sees a sliver anyway.
MAX_ASPECT_RATIO = 50

#: Memory one decode may take: the decoded picture and its conversions to upright RGB. Pixels
#: alone are not enough: a 15000x15000 lossless WebP of 8 KB (under the pixel cap) took 4.2 GB.
MAX_DECODE_BYTES = 2 * 1024**3

# Pillow's own bomb check (a warning at 89 MP, an error at 179 MP) is replaced by ours.
Image.MAX_IMAGE_PIXELS = None
ImageFile.LOAD_TRUNCATED_IMAGES = False


class ImageTooLarge(ImageDecodeError):
    """Refused from the header, before decoding: decoding at any scale would not change it."""


def load_rgb(path: Path, draft_size: Optional[int] = None) -> Image.Image:
    """Decode ``path`` to an upright RGB image.

    ``draft_size``: when given, JPEGs are decoded with DCT scaling (or from the camera's MPF
    preview) to the smallest size whose shorter side is still at least this many pixels: much
    faster for big photos. Whatever that reduced decode cannot read is decoded again in full,
    so the fast path never skips a photo the exact one reads.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as err:
        raise ImageDecodeError(f"cannot read file: {err.strerror or err}") from None
    if size == 0:
        raise ImageDecodeError("empty file (0 bytes)")
    if path.suffix.lower() in RAW_EXTENSIONS:
        return _load_raw_preview(path, draft_size)
    if draft_size:
        try:
            return _decode(path, draft_size)
        except ImageTooLarge:
            raise
        except ImageDecodeError:
            pass  # a damaged preview or odd metadata: the full decode decides
    return _decode(path, None)


def _decode(path: Path, draft_size: Optional[int]) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                _refuse_bombs(image)
                if draft_size and image.format == "MPO":  # camera JPEGs with an MPF preview
                    preview = _mpf_preview(image, draft_size)
                    if preview is not None:
                        return to_rgb(preview)
                if draft_size and image.format in ("JPEG", "MPO"):
                    image.draft("RGB", _draft_request(image.size, draft_size))
                check_decode_memory(image)
                image.load()
                upright = ImageOps.exif_transpose(image)
                return to_rgb(upright)
    except ImageDecodeError:
        raise
    except UnidentifiedImageError:
        raise ImageDecodeError("not a recognised image format (damaged, or not an image)") from None
    except OSError as err:
        message = str(err)
        if "truncated" in message.lower() or "broken data stream" in message:
            raise ImageDecodeError("the file is truncated or corrupt") from None
        raise ImageDecodeError(f"cannot decode image: {message}") from None
    except (ValueError, SyntaxError, EOFError, MemoryError, ZeroDivisionError, KeyError, TypeError,
            IndexError, struct.error) as err:  # what Pillow's plugins raise on damaged headers
        raise ImageDecodeError(f"cannot decode image: {err or type(err).__name__}") from None


#: Bytes per pixel Pillow keeps for a decoded picture of each mode (RGB is stored 4 bytes wide).
_STORED_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
#: Bytes per pixel of the conversions ``to_rgb`` makes on the way to upright RGB (see there).
_CONVERSION_BYTES = {"RGB": 4, "RGBA": 20, "LA": 20, "PA": 20, "RGBa": 20, "La": 20,
                     "I;16": 22, "I;16B": 22, "I;16L": 22, "I;16N": 22, "I": 22, "F": 22}
#: Decoders that keep buffers of their own next to the picture (measured: WebP's animation
#: decoder holds a full RGBA canvas; TIFF and PNG strip buffers are small).
_DECODER_BYTES = {"WEBP": 8}


def decode_cost(image: Image.Image) -> int:
    """Bytes a decode of ``image`` (as opened, after any draft) is expected to need at its peak."""
    width, height = image.size
    per_pixel = (_STORED_BYTES.get(image.mode, 4) + _CONVERSION_BYTES.get(image.mode, 8)
                 + _DECODER_BYTES.get(image.format or "", 0))
    if image.mode == "P" and "transparency" in image.info:
        per_pixel += _CONVERSION_BYTES["RGBA"]
    return width * height * per_pixel


def check_decode_memory(image: Image.Image) -> None:
    """Refuse, before any pixel is decoded, a picture whose decode would need more than
    ``MAX_DECODE_BYTES`` (JPEGs are checked at their reduced size: the fast path fits more)."""
    cost = decode_cost(image)
    if cost > MAX_DECODE_BYTES:
        width, height = image.size
        raise ImageTooLarge(
            f"decoding this {width}x{height} {image.format or ''} image ({image.mode}) would take about "
            f"{cost / 1024**3:.1f} GB of memory, over the {MAX_DECODE_BYTES / 1024**3:.0f} GB a picture may use"
        )


#: MPF (CIPA DC-007) types of a camera's large preview: the same picture, smaller. Other
#: types (stereo views, undefined: e.g. HDR gain maps or depth maps) are never used.
_MPF_PREVIEW_TYPES = ("Large Thumbnail (VGA Equivalent)", "Large Thumbnail (Full HD Equivalent)")
_EXIF_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
                   4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
                   6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}


def _mpf_preview(image: Image.Image, shorter_side: int) -> Optional[Image.Image]:
    """The smallest MPF large preview whose shorter side is >= ``shorter_side``, upright, or None.

    Decoding a camera's ~2 MP preview costs a fraction of the full image's entropy decoding.
    Only previews with the primary image's aspect ratio (so the same framing) qualify; the
    primary's EXIF orientation applies to them, as the camera writes both the same way up.
    """
    entries = (getattr(image, "mpinfo", None) or {}).get(0xB002) or []
    width, height = image.size
    orientation = image.getexif().get(0x0112, 1)
    best: Optional[tuple[int, int]] = None
    for frame, entry in enumerate(entries):
        if frame == 0 or entry.get("Attribute", {}).get("MPType") not in _MPF_PREVIEW_TYPES:
            continue
        try:
            image.seek(frame)
        except (EOFError, OSError, ValueError):
            continue
        w, h = image.size
        if min(w, h) >= shorter_side and abs(w / h - width / height) <= 0.01 * (width / height):
            best = min(best or (w * h, frame), (w * h, frame))
    try:
        if best is None:
            return None
        image.seek(best[1])
        image.draft("RGB", _draft_request(image.size, shorter_side))
        image.load()
        preview = image.copy()
    except (EOFError, OSError, ValueError, SyntaxError):
        return None  # a damaged preview: the primary image decides
    finally:
        image.seek(0)
    method = _EXIF_TRANSPOSE.get(orientation)
    return preview.transpose(method) if method is not None else preview


#: LibRaw's flip codes -> the transpose that makes the preview upright.
_RAW_FLIPS = {3: Image.Transpose.ROTATE_180, 5: Image.Transpose.ROTATE_90, 6: Image.Transpose.ROTATE_270}


def _load_raw_preview(path: Path, draft_size: Optional[int]) -> Image.Image:
    """A camera RAW file's embedded preview (fast, what cameras show), upright.

    Falls back to a half-size demosaic when the file has no usable preview.
    """

    try:
        import rawpy
    except ImportError:
        raise ImageDecodeError("camera RAW support is not installed (pip install rawpy)") from None
    try:
        with rawpy.imread(str(path)) as raw:
            flip = raw.sizes.flip
            try:
                thumb = raw.extract_thumb()
            except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
                thumb = None
            if thumb is not None and thumb.format == rawpy.ThumbFormat.JPEG:
                assert isinstance(thumb.data, bytes), "LibRaw gives JPEG previews as bytes"
                with Image.open(io.BytesIO(thumb.data)) as preview:
                    _refuse_bombs(preview)
                    if draft_size:
                        preview.draft("RGB", _draft_request(preview.size, draft_size))
                    check_decode_memory(preview)
                    preview.load()
                    exif_orientation = preview.getexif().get(0x0112, 1)
                    picture = ImageOps.exif_transpose(preview) if exif_orientation != 1 else preview.copy()
                    if exif_orientation != 1:
                        flip = 0  # the preview carries its own orientation
            elif thumb is not None:
                assert not isinstance(thumb.data, bytes), "LibRaw gives bitmap previews as arrays"
                check_dimensions(thumb.data.shape[1], thumb.data.shape[0])
                picture = Image.fromarray(thumb.data)
            else:
                check_dimensions(raw.sizes.iwidth, raw.sizes.iheight)
                picture = Image.fromarray(raw.postprocess(half_size=True, use_camera_wb=True))
    except ImageDecodeError:
        raise
    except Exception as err:  # LibRawError and friends: unreadable or unsupported
        raise ImageDecodeError(f"cannot read camera RAW file: {err or type(err).__name__}") from None
    if flip in _RAW_FLIPS:
        picture = picture.transpose(_RAW_FLIPS[flip])
    return to_rgb(picture)


def _refuse_bombs(image: Image.Image) -> None:
    """Refuse, from the header alone (before any pixel is decoded), what would exhaust memory."""
    check_dimensions(*image.size)


def check_dimensions(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise ImageTooLarge(
            f"image is {width}x{height} pixels ({width * height / 1e6:.0f} MP), over the "
            f"{MAX_PIXELS / 1e6:.0f} MP safety limit (a decompression bomb?)"
        )
    if min(width, height) < 1:
        raise ImageDecodeError(f"image is {width}x{height} pixels: nothing to look at")
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise ImageTooLarge(
            f"image is {width}x{height} pixels, an aspect ratio over {MAX_ASPECT_RATIO}:1; "
            "resizing it for the model would take far too much memory, and the model would see only a sliver"
        )


def _draft_request(size: tuple[int, int], shorter_side: int) -> tuple[int, int]:
    """Pillow's draft picks the smallest scale >= the requested box; keep the aspect ratio."""
    width, height = size
    scale = shorter_side / min(width, height)
    return (max(1, int(width * scale)), max(1, int(height * scale)))


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB, the way an image viewer would show it."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _high_bit_depth_to_rgb(image)
    if mode == "P":
        image = image.convert("RGBA") if "transparency" in image.info else image.convert("RGB")
        mode = image.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV, RGBX


def _high_bit_depth_to_rgb(image: Image.Image) -> Image.Image:
    import numpy as np

    values = np.asarray(image.convert("F") if image.mode == "F" else image, dtype=np.float64)
    peak = float(values.max()) if values.size else 0.0
    if image.mode == "F":
        scale = 255.0 / peak if peak > 1.0 else 255.0  # float images are 0..1 or 0..peak
    else:
        scale = 255.0 / 65535.0 if peak > 255 else 1.0  # 16-bit data, or 8-bit stored wide
    grey = np.clip(values * scale + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(grey, mode="L").convert("RGB")
