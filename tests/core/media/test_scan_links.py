"""Symlinks in the trees the user names: a linked photo's sidecar goes next to the link,
folders reached through links are tagged where they are or reported, never skipped silently,
and a broken sidecar link never makes cliptagger create a file elsewhere."""

from __future__ import annotations

import os

from cliptagger.core.media.scan import scan
from cliptagger.core.metadata.sidecars import sidecar_path, write_sidecars
from tests import helpers


def test_a_linked_photo_keeps_its_link_name_and_its_sidecar_stays_in_the_tree(tmp_path):
    tree, outside = tmp_path / "tree", tmp_path / "outside"
    tree.mkdir()
    outside.mkdir()
    target = helpers.photo(outside / "real.jpg")
    (tree / "linked.jpg").symlink_to(target)
    found = scan([tree])
    assert found.images == [tree / "linked.jpg"] and found.problems == []
    report = write_sidecars({found.images[0]: ["dog"]})
    assert report.written == [sidecar_path(tree / "linked.jpg")] and sidecar_path(tree / "linked.jpg").parent == tree
    assert sorted(os.listdir(outside)) == ["real.jpg"]  # nothing written next to the target


def test_the_same_photo_reached_twice_counts_once_by_its_first_name(tmp_path):
    photo = helpers.photo(tmp_path / "a.jpg")
    (tmp_path / "b.jpg").symlink_to(photo)
    assert scan([tmp_path]).images == [tmp_path / "a.jpg"]
    assert scan([tmp_path / "sub" / ".." / "a.jpg"]).problems  # no such folder 'sub': said
    assert scan([str(tmp_path) + "/./a.jpg"]).images == [tmp_path / "a.jpg"]


def test_linked_folders_are_tagged_where_they_are_or_reported(tmp_path):
    tree, outside = tmp_path / "tree", tmp_path / "outside"
    (tree / "inner").mkdir(parents=True)
    outside.mkdir()
    helpers.photo(tree / "inner" / "in.jpg")
    helpers.photo(outside / "out.jpg")
    (tree / "to-inner").symlink_to(tree / "inner")
    (tree / "to-outside").symlink_to(outside)
    (tree / "broken").symlink_to(tmp_path / "gone")  # could be anything: no photo name, not reported
    (tree / "gone.jpg").symlink_to(tmp_path / "gone.jpg")
    os.mkfifo(tree / "fifo.jpg")
    found = scan([tree])
    assert found.images == [tree / "inner" / "in.jpg"]
    problems = {path.name: why for path, why in found.problems}
    assert set(problems) == {"to-outside", "gone.jpg", "fifo.jpg"}
    assert "outside" in problems["to-outside"]
    assert "broken link" in problems["gone.jpg"] and "regular file" in problems["fifo.jpg"]


def test_a_broken_sidecar_link_is_not_followed(tmp_path):
    tree, elsewhere = tmp_path / "tree", tmp_path / "elsewhere"
    tree.mkdir()
    elsewhere.mkdir()
    photo = helpers.photo(tree / "a.jpg")
    sidecar_path(photo).symlink_to(elsewhere / "planted.xmp")
    report = write_sidecars({photo: ["dog"]})
    assert report.written == [] and "broken link" in report.failed[0][1]
    assert os.listdir(elsewhere) == []


def test_a_sidecar_linked_to_another_kind_of_file_is_not_written_through(tmp_path):
    photo = helpers.photo(tmp_path / "a.jpg")
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>")  # parses as XMP, but is not a sidecar
    sidecar_path(photo).symlink_to(notes)
    report = write_sidecars({photo: ["dog"]})
    assert report.written == [] and "not an XMP sidecar" in report.failed[0][1]
    assert notes.read_bytes() == b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>"
