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


def undo_target_problem(path: Path) -> Optional[str]:
    """Why undo must not touch ``path`` (None: it may): the containment rule."""
    text = os.fsdecode(os.fsencode(path))
    if not os.path.isabs(text):
        return "not an absolute path"
    if os.path.normpath(text) != text or any(part in (".", "..") for part in Path(text).parts):
        return "not a normalised path (it has '.' or '..' in it)"
    if not path.name.lower().endswith(SIDECAR_SUFFIX) or path.name.lower() == SIDECAR_SUFFIX:
        return "not an XMP sidecar (cliptagger writes no other file)"
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as err:
        return f"cannot be checked: {err.strerror or err}"
    if stat.S_ISLNK(info.st_mode):
        return sidecar_link_problem(path)
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
