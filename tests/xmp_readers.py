"""exiftool and exiv2: the independent readers our sidecars are checked against."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Optional

import pytest

OWNED_TAGS = {"XMP-dc:Subject", "XMP-lr:HierarchicalSubject", "XMP-digiKam:TagsList"}


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed; .ci/run installs it (apt: libimage-exiftool-perl, exiv2)")
    return path


def exiftool_json(path: Path, *options: str) -> dict:
    done = subprocess.run([require("exiftool"), "-j", "-G1", "-a", "-struct", *options, str(path)],
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)[0]


def exiftool_keywords(path: Path) -> dict[str, list[str]]:
    data = exiftool_json(path)

    def as_list(value):
        if value is None:
            return []
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]

    return {tag: as_list(data.get(tag)) for tag in sorted(OWNED_TAGS)}


def foreign_properties(path: Path) -> dict:
    """Everything exiftool reads from the sidecar except what cliptagger owns."""
    data = exiftool_json(path)
    return {
        key: value for key, value in data.items()
        if key not in OWNED_TAGS
        and not key.startswith(("System:", "File:", "ExifTool:", "XMP-cliptagger:"))
        and key != "SourceFile"
    }


def exiv2_arrays(path: Path) -> dict[str, tuple[str, int, str]]:
    """key -> (type, count, joined value) from ``exiv2 -px``."""
    done = subprocess.run([require("exiv2"), "-px", str(path)], capture_output=True, text=True, timeout=60)
    rows = {}
    for line in done.stdout.splitlines():
        parts = line.split(None, 3)
        if len(parts) >= 3:
            rows[parts[0]] = (parts[1], int(parts[2]), parts[3] if len(parts) > 3 else "")
    return rows


def exiv2_values(path: Path) -> dict[str, tuple[str, int, str]]:
    """key -> (type, count, value) from ``exiv2 -px``; values may span lines (CR and LF kept)."""
    return exiv2_many([path])[Path(path)]


def exiv2_many(paths) -> dict[Path, dict[str, tuple[str, int, str]]]:
    """``exiv2 -px`` over many files in one process: path -> key -> (type, count, value)."""
    paths = [Path(p) for p in paths]
    done = subprocess.run([require("exiv2"), "-px", *map(str, paths)], capture_output=True, timeout=120)
    text = done.stdout.decode("utf-8", errors="surrogateescape")
    names = {str(p): p for p in paths}
    result: dict[Path, dict[str, tuple[str, int, str]]] = {p: {} for p in paths}
    current: Optional[tuple[Path, str]] = None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the line feed after the last row
    for line in lines:
        owner: Optional[Path] = paths[0] if len(paths) == 1 else None
        rest = line
        if len(paths) > 1:
            head, _, tail = line.partition(" ")
            owner = names.get(head)
            rest = tail.lstrip(" ")
        parts = rest.split(None, 3) if owner is not None else []
        if len(parts) >= 3 and parts[0].startswith("Xmp.") and parts[2].isdigit():
            # the value keeps its inner spacing and CRs
            value = rest[rest.index(parts[2], len(parts[0]) + len(parts[1])) + len(parts[2]):].lstrip(" ") if len(parts) > 3 else ""
            result[owner][parts[0]] = (parts[1], int(parts[2]), value)
            current = (owner, parts[0])
        elif current is not None:  # a value that went on over a line feed
            kind, count, value = result[current[0]][current[1]]
            result[current[0]][current[1]] = (kind, count, value + "\n" + line)
    return result


class ExiftoolBatch:
    """One ``exiftool -stay_open`` process answering many requests (tens of ms each, not 200)."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [require("exiftool"), "-stay_open", "True", "-@", "-"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )

    def json(self, paths) -> list[dict]:
        """``exiftool -j -G1 -a -struct`` for each path, in order."""
        paths = [str(p) for p in paths]
        arguments = ["-j", "-G1", "-a", "-struct", "-charset", "filename=utf8", *paths, "-execute"]
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(("\n".join(arguments) + "\n").encode("utf-8"))
        self._process.stdin.flush()
        lines = []
        while True:
            line = self._process.stdout.readline()
            if not line:
                raise RuntimeError("exiftool -stay_open ended unexpectedly")
            if line.rstrip(b"\r\n") == b"{ready}":
                break
            lines.append(line)
        output = b"".join(lines).decode("utf-8")
        records = json.loads(output) if output.strip() else []
        by_source = {record.get("SourceFile"): record for record in records}
        return [by_source.get(p, {}) for p in paths]

    def close(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            try:
                self._process.stdin.write(b"-stay_open\nFalse\n")
                self._process.stdin.flush()
                self._process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()


def as_list(value) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def split_exiftool(data: dict) -> tuple[dict[str, list[str]], dict]:
    """(our three keyword tags -> values, every other property) from one exiftool JSON record."""
    keywords = {tag: as_list(data.get(tag)) for tag in sorted(OWNED_TAGS)}
    foreign = {
        key: value for key, value in data.items()
        if key not in OWNED_TAGS
        and not key.startswith(("System:", "File:", "ExifTool:", "XMP-cliptagger:"))
        and key != "SourceFile"
    }
    return keywords, foreign


EXIV2_KEYWORD_KEYS = ("Xmp.dc.subject", "Xmp.lr.hierarchicalSubject", "Xmp.digiKam.TagsList")


def split_exiv2(rows: dict[str, tuple[str, int, str]]) -> tuple[dict[str, tuple[str, int, str]], dict]:
    """(our three keyword properties, every other property) from exiv2 rows."""
    keywords = {key: rows[key] for key in EXIV2_KEYWORD_KEYS if key in rows}
    foreign = {key: value for key, value in rows.items()
               if key not in EXIV2_KEYWORD_KEYS and not key.startswith("Xmp.cliptagger.")}
    return keywords, foreign
