"""The photo-app table: kinds of file, one plan per write, and the README's table made from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cliptagger.core.errors import CliptaggerError
from cliptagger.core.metadata.sidecar_names import SidecarStyle
from cliptagger.core.metadata.targets import (
    TARGETS,
    FileKind,
    embedded_refusal,
    file_kind,
    markdown_table,
    target,
    where_to_write,
)


@pytest.mark.parametrize("name, kind", [("a.JPG", FileKind.JPEG), ("a.tiff", FileKind.TIFF), ("a.dng", FileKind.DNG),
                                        ("a.CR3", FileKind.RAW), ("a.heic", FileKind.HEIC), ("a.webp", FileKind.WEBP),
                                        ("a.png", FileKind.PNG), ("a.gif", None)])
def test_file_kinds(name, kind):
    assert file_kind(Path(name)) is kind


def test_lightroom_puts_raw_in_adobe_sidecars_and_the_rest_inside_the_photo():
    photos = [Path("x/a.CR2"), Path("x/b.jpg"), Path("x/c.dng"), Path("x/d.gif")]
    plan = where_to_write(target("Lightroom"), photos, SidecarStyle.EXT)
    assert plan.style is SidecarStyle.ADOBE and plan.sidecars == [photos[0]]
    assert plan.embedded == [photos[1], photos[2]] and plan.unread == [photos[3]]
    message = embedded_refusal(target("lightroom"), plan.embedded)
    assert "DNG, JPEG" in message and "2 photos" in message and "--sidecars-anyway" in message


def test_custom_follows_the_users_style_and_darktable_its_own():
    photos = [Path("a.CR2"), Path("b.jpg")]
    assert where_to_write(target("custom"), photos, SidecarStyle.ADOBE).style is SidecarStyle.ADOBE
    plan = where_to_write(target("darktable"), photos, SidecarStyle.ADOBE)
    assert plan.style is SidecarStyle.EXT and plan.sidecars == photos and not plan.embedded


def test_an_unknown_app_is_a_clear_error():
    with pytest.raises(CliptaggerError, match="known: lightroom"):
        target("picasa")


def test_the_readme_table_is_the_table():
    table = markdown_table()
    assert len(table.splitlines()) == len(TARGETS) + 2
    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    assert table in readme, "README.md's 'Where your tags go' table is stale: paste targets.markdown_table()"
