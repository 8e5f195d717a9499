"""What undo may touch, and proof that a journal line is cliptagger's own.

Undo deletes and overwrites files named by the journal, so the journal is untrusted input:
a planted or edited line must never make undo touch a file. Two checks, both before
anything is touched:

* **Containment** (``undo_target_problem``): cliptagger only ever writes XMP sidecars, so an
  entry may only name an absolute, normalised path (no ``..``, no ``.``) to a ``*.xmp`` file
  (a symlink only to another ``*.xmp``), or a path where none exists. A journal cannot ask for ``victim.txt``.
* **Integrity** (``Signer``/``verify_chain``): each line carries an HMAC-SHA256 over its
  content and the previous line's MAC (a chain: lines cannot be edited, reordered, moved
  between batches or inserted), keyed by a random key in the journal folder (0600). Batches
  from before the chain (version 2) have no MACs: accepted (containment still applies) only
  if numbered no later than the newest batch when the key was made.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from cliptagger.core.errors import CliptaggerError
from cliptagger.core.storage.fileio import set_aside

KEY_FILE = ".journal-key"
KEY_BYTES = 32
MAC_FIELD = "mac"


class JournalKeyError(CliptaggerError):
    """The journal's key is missing or damaged: signed lines cannot be verified."""


@dataclass(frozen=True)
class JournalKey:
    secret: bytes
    #: The newest batch that existed, unsigned, when the key was made: only batches up to it
    #: may be unsigned (older cliptagger); an unsigned batch numbered after it was planted.
    legacy_until: int


def load_key(folder: Path, create_with_legacy_until: Optional[int] = None) -> Optional[JournalKey]:
    """The journal folder's key; None if there is none (made when ``create_with_legacy_until``
    is given: the newest batch sequence in the folder now)."""
    path = folder / KEY_FILE
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        if create_with_legacy_until is None:
            return None
        return _create_key(path, create_with_legacy_until)
    except OSError as err:
        raise JournalKeyError(f"cannot read the journal key {path}: {err.strerror or err}") from None
    try:
        info = os.fstat(fd)
        data = os.read(fd, 256) if stat.S_ISREG(info.st_mode) and info.st_size <= 256 else b""
    finally:
        os.close(fd)
    try:
        secret_hex, legacy = data.decode("ascii").split()
        secret = bytes.fromhex(secret_hex)
        if len(secret) != KEY_BYTES or not legacy.isdigit():
            raise ValueError
        return JournalKey(secret, int(legacy))
    except (UnicodeDecodeError, ValueError):
        raise JournalKeyError(f"the journal key {path} is damaged: signed journal lines cannot be "
                              "checked, so undo will not touch their files") from None


def writing_key(folder: Path, newest_batch: int) -> JournalKey:
    """The key to sign a new batch with; a damaged key is set aside (the batches it signed are
    then refused by undo, their files left alone) and a new one made."""
    try:
        key = load_key(folder, create_with_legacy_until=newest_batch)
    except JournalKeyError:
        set_aside(folder / KEY_FILE)
        key = load_key(folder, create_with_legacy_until=newest_batch)
    assert key is not None
    return key


def _create_key(path: Path, legacy_until: int) -> JournalKey:
    """A new key, put in place only if none appeared meanwhile (two writers agree on one key)."""
    key = JournalKey(secrets.token_bytes(KEY_BYTES), legacy_until)
    temp = path.with_name(f"{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, f"{key.secret.hex()} {legacy_until}\n".encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temp, path)
    except FileExistsError:
        existing = load_key(path.parent)
        if existing is None:
            raise JournalKeyError(f"the journal key {path} vanished while it was made") from None
        return existing
    finally:
        os.unlink(temp)
    return key


def _mac(key: bytes, previous: str, record: dict[str, Any]) -> str:
    body = json.dumps({k: v for k, v in record.items() if k != MAC_FIELD}, sort_keys=True, ensure_ascii=True)
    return hmac.new(key, (previous + "\n" + body).encode("ascii"), hashlib.sha256).hexdigest()


class Signer:
    """Adds the chained MAC to each record of one batch, in the order they are written."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._previous = ""

    def sign(self, record: dict[str, Any]) -> dict[str, Any]:
        mac = _mac(self._key, self._previous, record)
        self._previous = mac
        return {**record, MAC_FIELD: mac}


def verify_chain(records: list[dict[str, Any]], key: Optional[bytes]) -> list[bool]:
    """For each record of a signed batch, whether it is intact and in its place.

    A record whose MAC fails is not cliptagger's; the chain goes on from the last good MAC,
    so one planted or damaged line does not condemn the lines after it that are intact
    (an inserted line fails; a removed line makes only its successor fail).
    """
    if key is None:
        return [False] * len(records)
    results, previous = [], ""
    for record in records:
        mac = record.get(MAC_FIELD)
        good = isinstance(mac, str) and hmac.compare_digest(mac, _mac(key, previous, record))
        results.append(good)
        if good:
            previous = mac  # type: ignore[assignment]
    return results
