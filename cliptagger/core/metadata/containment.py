"""The containment rule, in one place: which files cliptagger may write, replace or delete.

cliptagger writes XMP sidecars next to the photos the user named (and files in its own
folders). Writes and undo ask here before touching a sidecar path, so a planted journal line,
a symlink or a ``..`` cannot lead them to any other file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Optional

SIDECAR_SUFFIX = ".xmp"


#: Photos cliptagger may write keywords into (embedded metadata, an opt-in): see embedded_checks.
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".dng", ".png", ".webp", ".heic", ".heif", ".avif")


def undo_target_problem(path: Path, photo: bool = False) -> Optional[str]:
    """Why undo must not touch ``path`` (None: it may): the containment rule. ``photo``: a
    journal line of an embedded write, which names a photo of a format cliptagger writes into."""
    text = os.fsdecode(os.fsencode(path))
    if not os.path.isabs(text):
        return "not an absolute path"
    if os.path.normpath(text) != text or any(part in (".", "..") for part in Path(text).parts):
        return "not a normalised path (it has '.' or '..' in it)"
    if photo:
        if path.suffix.lower() not in PHOTO_SUFFIXES or path.name.lower() == path.suffix.lower():
            return "not a photo of a format cliptagger writes keywords into"
    elif not path.name.lower().endswith(SIDECAR_SUFFIX) or path.name.lower() == SIDECAR_SUFFIX:
        return "not an XMP sidecar (cliptagger writes no other file)"
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as err:
        return f"cannot be checked: {err.strerror or err}"
    if stat.S_ISLNK(info.st_mode):
        return "a symbolic link; undo of an embedded write does not follow it" if photo else sidecar_link_problem(path)
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    return None


def sidecar_link_problem(path: Path) -> Optional[str]:
    """Why a sidecar path that is a symlink must not be written through (None: it is no link,
    or a link to an existing ``*.xmp``). Writing through a broken link would create its
    target, anywhere; through a link to another kind of file, replace that file."""
    if not os.path.islink(path):
        return None
    target = os.path.realpath(path)
    if not os.path.exists(target):
        return f"a broken link (to {os.readlink(path)}); not followed"
    if not target.lower().endswith(SIDECAR_SUFFIX):
        return "a symlink to a file that is not an XMP sidecar"
    return None
