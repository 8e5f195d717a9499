"""Atomic file writes: a reader (or a crash) sees the old file or the new one, never half.

The new content goes to a temporary file in the same folder (same file system, so the
final rename is atomic), is flushed to disk, takes over the old file's permission bits,
and only then replaces the target.

Sidecars get more than that (``snapshot`` + ``replace_if_unchanged``): a compare-and-swap.
What was read (size, mtime_ns, inode, SHA-256) is remembered, and right before the rename
the file is checked again; where Linux offers ``renameat2`` the swap itself is
``RENAME_EXCHANGE`` (the file swapped out is checked once more, and swapped back if another
program replaced it in between) or ``RENAME_NOREPLACE`` for a file we create. A change
raises ``FileChanged``: the caller re-reads, re-merges and tries again. Other platforms
fall back to check-then-``os.replace`` (a window of microseconds instead of the whole
merge). Symbolic links are written through: the link's final target is replaced, the link
stays a link.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import re
import stat
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable, Optional

#: Temp files are ``.NAME.<random>.tmp`` next to NAME (``tempfile.mkstemp``: 8 characters).
TEMP_PREFIX_MARK = "."
TEMP_SUFFIX = ".tmp"
_RANDOM = r"[a-z0-9_]{8}"


class FileChanged(Exception):
    """The file is no longer what was read: re-read, re-merge, retry."""


def atomic_write_bytes(path: Path, data: bytes, default_mode: int = 0o644) -> None:
    """Replace ``path`` (through a symlink: its target) with ``data``, atomically."""
    target = write_target(Path(path))
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = default_mode & ~_UMASK
    temp_name = _write_temp(target, data, mode)
    try:
        os.replace(temp_name, target)
    except BaseException:
        _unlink_quietly(temp_name)
        raise
    _fsync_folder(target.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_target(path: Path) -> Path:
    """Where writing ``path`` must go: the final target of a (chain of) symlink(s), else itself.

    A dangling link names the file it will create. A link loop raises ``OSError`` (ELOOP).
    """
    path = Path(path)
    if not path.is_symlink():
        return path
    resolved = Path(os.path.realpath(path, strict=False))
    if resolved.is_symlink():  # realpath gives up on a loop and returns a link
        raise OSError(errno.ELOOP, "the symbolic link points back to itself", str(path))
    return resolved


# ------------------------------------------------------------------------ compare-and-swap


@dataclass(frozen=True)
class Snapshot:
    """A file as it was read: its bytes and identity (``data`` None: it did not exist)."""

    path: Path
    target: Path
    data: Optional[bytes]
    size: int = -1
    mtime_ns: int = -1
    inode: int = -1
    sha256: str = ""

    @property
    def exists(self) -> bool:
        return self.data is not None

    def identity(self) -> tuple[int, int, int]:
        return self.size, self.mtime_ns, self.inode


def set_aside(path: Path, companions: Iterable[str] = ()) -> Path:
    """Move a damaged state file of ours out of the way, kept for inspection, as
    ``NAME.corrupt-<time>`` (with its ``companions``, e.g. SQLite's ``-wal``, ``-shm``);
    returns that name. A file that cannot be moved stays where it is (the caller then
    refuses to overwrite it)."""
    aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
    for suffix in ("", *companions):
        try:
            os.replace(str(path) + suffix, str(aside) + suffix)
        except OSError:
            pass
    return aside


def marked_read_only(path: Path) -> bool:
    """No write permission for us, or no write bit at all (respected even when run as root,
    who could write anyway): the user's way of saying "do not change this". False when the
    file cannot be examined."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not os.access(path, os.W_OK) or not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def snapshot(path: Path, max_bytes: Optional[int] = None) -> Snapshot:
    """Read ``path`` (through symlinks) with its identity, consistently.

    The stat before and after the read must agree, so the bytes belong to that identity.
    ``max_bytes``: larger files raise ``ValueError`` before being read.
    """
    path = Path(path)
    target = write_target(path)
    for _ in range(5):
        try:
            with open_regular(target) as handle:
                before = os.fstat(handle.fileno())
                if max_bytes is not None and before.st_size > max_bytes:
                    raise ValueError(f"{before.st_size} bytes")
                data = handle.read()
            after = os.stat(target)
        except FileNotFoundError:
            return Snapshot(path, target, None)
        if _identity(before) == _identity(after) and len(data) == before.st_size:
            return Snapshot(path, target, data, before.st_size, before.st_mtime_ns, before.st_ino, sha256(data))
        time.sleep(0.001)  # written while we read: read again
    raise FileChanged(f"{path} kept changing while it was read")


class NotARegularFile(OSError):
    """A FIFO, device, socket or folder where a file of ours or a sidecar should be: reading
    it could block forever or never end, so it is not read."""


def open_regular(path: Path) -> BinaryIO:
    """Open for reading without blocking on a FIFO, refusing anything but a regular file."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotARegularFile(errno.EINVAL, "not a regular file (a FIFO, device or folder); not read", str(path))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bounded(path: Path, max_bytes: int) -> bytes:
    """A regular file's bytes; ``ValueError`` (before reading) if it is larger than ``max_bytes``."""
    with open_regular(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        data = handle.read(max_bytes + 1) if size <= max_bytes else b""
        if size > max_bytes or len(data) > max_bytes:  # (it may grow while it is read)
            raise ValueError(f"{path} is {max(size, len(data)):,} bytes (limit {max_bytes:,}); not read")
        return data


def _identity(info: os.stat_result) -> tuple[int, int, int]:
    return info.st_size, info.st_mtime_ns, info.st_ino


def _still_as_read(expected: Snapshot) -> bool:
    try:
        info = os.stat(expected.target)
    except FileNotFoundError:
        return not expected.exists
    if not expected.exists or _identity(info) != expected.identity():
        return False
    try:
        return sha256(expected.target.read_bytes()) == expected.sha256
    except OSError:
        return False


def replace_if_unchanged(expected: Snapshot, data: bytes, default_mode: int = 0o644) -> None:
    """Write ``data`` over the file of ``expected`` only if it still is what was read.

    Raises ``FileChanged`` (nothing written) when another program changed, created or
    deleted the file since ``expected`` was taken; ``OSError`` for real I/O failures.
    """
    target = expected.target
    if expected.exists:
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            raise FileChanged(f"{expected.path} was deleted meanwhile") from None
    else:
        mode = default_mode & ~_UMASK
    replace_with_file_if_unchanged(expected, _write_temp(target, data, mode))


def replace_with_file_if_unchanged(expected: Snapshot, temp_name: str) -> None:
    """``replace_if_unchanged`` with the new content already in ``temp_name`` (a flushed file in
    the target's folder, with its final permissions); ``temp_name`` is gone afterwards."""
    target = expected.target
    try:
        if not _still_as_read(expected):
            raise FileChanged(f"{expected.path} changed meanwhile")
        if expected.exists:
            _swap_in(temp_name, expected)
        else:
            _create_exclusive(temp_name, target, expected.path)
    finally:
        _unlink_quietly(temp_name)  # after a swap it holds the old file; else our unused copy
    _fsync_folder(target.parent)


def _swap_in(temp_name: str, expected: Snapshot) -> None:
    target = expected.target
    if not _renameat2(temp_name, str(target), RENAME_EXCHANGE):
        os.replace(temp_name, target)  # portable fallback: checked just before
        return
    # The file now at temp_name is exactly what the target was at the instant of the swap.
    try:
        info = os.stat(temp_name)
        unchanged = _identity(info) == expected.identity() and sha256(Path(temp_name).read_bytes()) == expected.sha256
    except OSError:
        unchanged = False
    if not unchanged:
        _renameat2(temp_name, str(target), RENAME_EXCHANGE)  # give the other program its file back
        raise FileChanged(f"{expected.path} changed meanwhile")


def _create_exclusive(temp_name: str, target: Path, shown: Path) -> None:
    """Put temp_name at target only if nothing is there yet (another program may create it)."""
    if _renameat2(temp_name, str(target), RENAME_NOREPLACE, exists_error=True):
        return
    try:
        os.link(temp_name, target)  # fails with EEXIST: atomic create-if-absent where links work
    except FileExistsError:
        raise FileChanged(f"{shown} was created meanwhile") from None
    except OSError:
        if target.exists():
            raise FileChanged(f"{shown} was created meanwhile") from None
        os.replace(temp_name, target)  # no hard links here (some network/FAT drives)


# Linux renameat2 flags (linux/fs.h)
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
AT_FDCWD = -100
_renameat2_func = None
_renameat2_missing = not sys.platform.startswith("linux")


def _renameat2(source: str, destination: str, flags: int, exists_error: bool = False) -> bool:
    """True when done; False where renameat2 (or the flag, on this file system) is not available.

    ``exists_error``: with RENAME_NOREPLACE an existing destination raises ``FileChanged``.
    """
    global _renameat2_func, _renameat2_missing
    if _renameat2_missing:
        return False
    if _renameat2_func is None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            func = libc.renameat2
        except (OSError, AttributeError):
            _renameat2_missing = True
            return False
        func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        func.restype = ctypes.c_int
        _renameat2_func = func
    result = _renameat2_func(AT_FDCWD, os.fsencode(source), AT_FDCWD, os.fsencode(destination), flags)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False  # this file system (or kernel) cannot: use the fallback
    if code == errno.EEXIST and exists_error:
        raise FileChanged(f"{destination} was created meanwhile")
    if code == errno.ENOENT and flags & RENAME_EXCHANGE:
        raise FileChanged(f"{destination} was deleted meanwhile")
    raise OSError(code, os.strerror(code), destination)


# ------------------------------------------------------------------------ temp files


def _temp_prefix(target: Path) -> str:
    """``.NAME.`` for the temp file of NAME, shortened (from the front of its stem, the
    extension kept so that ``stale_temp_files`` still knows it) where ``.NAME.XXXXXXXX.tmp`` would
    not fit the file system's name limit: a photo named near the limit still gets its sidecar."""
    try:
        limit = os.pathconf(target.parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    room = limit - len(TEMP_PREFIX_MARK) - len(".") - 8 - len(TEMP_SUFFIX)
    name = target.name
    encoded = os.fsencode(name)
    if len(encoded) > room:
        suffix = target.suffix
        keep = os.fsencode(target.stem)[:max(1, room - len(os.fsencode(suffix)))]
        name = os.fsdecode(keep.decode("utf-8", "ignore").encode("utf-8")) + suffix
    return f"{TEMP_PREFIX_MARK}{name}."


def _write_temp(target: Path, data: bytes, mode: int) -> str:
    fd, temp_name = tempfile.mkstemp(prefix=_temp_prefix(target), suffix=TEMP_SUFFIX, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, mode)
    except BaseException:
        _unlink_quietly(temp_name)
        raise
    return temp_name


def stale_temp_files(folder: Path, older_than_s: float = 3600.0,
                     names: Optional[Iterable[str]] = None) -> list[Path]:
    """Our temp files (``.NAME.xmp.XXXXXXXX.tmp``) in ``folder`` left by a killed run.

    Only regular files of our exact pattern, for an ``.xmp`` NAME, not modified for
    ``older_than_s`` (a live writer keeps one for milliseconds) count. ``names``: the
    folder's entries when already listed.
    """
    pattern = re.compile(r"^\.(?P<name>.+\.xmp)\." + _RANDOM + re.escape(TEMP_SUFFIX) + "$", re.IGNORECASE)
    if names is None:
        try:
            names = os.listdir(folder)
        except OSError:
            return []
    cutoff = time.time() - older_than_s
    found = []
    for name in names:
        if not pattern.match(name):
            continue
        candidate = Path(folder) / name
        try:
            info = os.lstat(candidate)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
            found.append(candidate)
    return found


def remove_stale_temp_files(folder: Path, older_than_s: float = 3600.0,
                            names: Optional[Iterable[str]] = None) -> list[Path]:
    """Delete ``stale_temp_files``; returns what went (failures are left for next time)."""
    removed = []
    for candidate in stale_temp_files(folder, older_than_s, names):
        try:
            candidate.unlink()
            removed.append(candidate)
        except OSError:
            pass
    return removed


def _unlink_quietly(name: str) -> None:
    try:
        os.unlink(name)
    except FileNotFoundError:
        pass
    except OSError:
        pass


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_UMASK = _read_umask()  # read once: os.umask is process-wide and not thread-safe to probe
