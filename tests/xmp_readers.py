"""exiftool and exiv2: the independent readers our sidecars are checked against."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

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
