"""Undo against what other programs and other undos do meanwhile: a sidecar rewritten without
cliptagger's ownership record, two undos at once, a journal folder that cannot be written."""

from __future__ import annotations

import re
import threading

import pytest

from cliptagger.core.errors import UndoError
from cliptagger.core.metadata import undo
from cliptagger.core.metadata.journal import journal_dir, list_batches
from cliptagger.core.metadata.sidecars import keywords_in_sidecar, write_sidecars
from cliptagger.core.storage import locks
from tests import helpers


def drop_cliptagger_record(data: bytes) -> bytes:
    """What a program that rewrites XMP without knowing our namespace does: every
    ``cliptagger:`` property gone, the keywords themselves kept."""
    text = data.decode("utf-8")
    text = re.sub(r"<cliptagger:(\w+)>.*?</cliptagger:\1>\s*", "", text, flags=re.S)
    text = re.sub(r'\s*cliptagger:\w+="[^"]*"', "", text)
    assert "cliptagger:" not in text.replace("xmlns:cliptagger", "")
    return text.encode("utf-8")


def test_force_uses_the_journal_list_when_another_program_dropped_the_record(tmp_path):
    photo = helpers.photo(tmp_path / "IMG_1.jpg")
    sidecar = tmp_path / "IMG_1.jpg.xmp"
    write_sidecars({photo: ["Animals|dog", "beach"]})
    edited = drop_cliptagger_record(sidecar.read_bytes()).replace(
        b"<rdf:li>beach</rdf:li>", b"<rdf:li>beach</rdf:li><rdf:li>mine</rdf:li>", 1)
    sidecar.write_bytes(edited)
    assert set(keywords_in_sidecar(edited)) >= {"Animals|dog", "beach", "mine"}
    assert undo.undo_last_batch().skipped  # changed since: left alone without --force
    forced = undo.undo_last_batch(force=True)
    assert forced.merged == [sidecar] and not forced.nothing_left
    left = keywords_in_sidecar(sidecar.read_bytes())
    assert "mine" in left and not {"Animals|dog", "dog", "beach"} & set(left)


def test_a_forced_undo_that_empties_a_keyword_property_removes_it_instead_of_leaving_a_blank_entry(tmp_path):
    """An empty rdf:Bag reads as one blank keyword in exiftool ("XMP-dc:Subject": whitespace)."""
    from tests.xmp_readers import exiftool_keywords

    photo = helpers.photo(tmp_path / "IMG_1.jpg")
    sidecar = tmp_path / "IMG_1.jpg.xmp"
    write_sidecars({photo: ["Animals|dog", "beach"]})
    sidecar.write_bytes(drop_cliptagger_record(sidecar.read_bytes()))
    assert undo.undo_last_batch(force=True).merged == [sidecar]
    assert b"<rdf:Bag" not in sidecar.read_bytes() and b"<rdf:Seq" not in sidecar.read_bytes()
    assert not any(exiftool_keywords(sidecar).values())


def test_two_undos_at_once_take_two_batches_one_each(tmp_path):
    photos = [helpers.photo(tmp_path / f"IMG_{i}.jpg") for i in range(2)]
    for photo in photos:  # two batches
        write_sidecars({photo: ["beach"]})
    assert len(list_batches()) == 2
    reports = []
    start = threading.Barrier(2)

    def one_undo():
        start.wait()
        reports.append(undo.undo_last_batch())

    threads = [threading.Thread(target=one_undo) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(len(r.removed) for r in reports) == [1, 1]
    assert {r.batch for r in reports} and len({r.batch for r in reports}) == 2
    assert not any((tmp_path / f"IMG_{i}.jpg.xmp").exists() for i in range(2))
    assert list_batches() == []


def test_an_undo_that_waits_too_long_says_so_and_touches_nothing(tmp_path):
    photo = helpers.photo(tmp_path / "IMG_1.jpg")
    write_sidecars({photo: ["beach"]})
    with locks.undo_lock():
        result = []
        waiting = threading.Thread(target=lambda: result.append(_undo_or_error(wait_s=0.2)))
        waiting.start()
        waiting.join()
    assert isinstance(result[0], UndoError) and "Another cliptagger is undoing" in str(result[0])
    assert (tmp_path / "IMG_1.jpg.xmp").exists() and len(list_batches()) == 1


def _undo_or_error(wait_s):
    try:
        return undo.undo_last_batch(wait_s=wait_s)
    except UndoError as err:
        return err


def test_a_journal_folder_that_cannot_be_written_stops_undo_before_any_sidecar(tmp_path, monkeypatch):
    photo = helpers.photo(tmp_path / "IMG_1.jpg")
    write_sidecars({photo: ["beach"]})
    real_open = undo.os.open

    def read_only_journal(path, flags, *args):  # what a read-only folder (or mount) answers
        if str(path).startswith(str(journal_dir())) and flags & undo.os.O_CREAT:
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args)

    monkeypatch.setattr(undo.os, "open", read_only_journal)
    with pytest.raises(UndoError, match="cannot be written.*nothing was undone"):
        undo.undo_last_batch()
    assert (tmp_path / "IMG_1.jpg.xmp").exists() and len(list_batches()) == 1


def test_a_batch_that_cannot_be_marked_undone_is_reported_and_undoing_again_is_harmless(tmp_path, monkeypatch):
    photo = helpers.photo(tmp_path / "IMG_1.jpg")
    write_sidecars({photo: ["beach"]})
    real_replace = undo.os.replace

    def folder_turned_read_only(source, target):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(undo.os, "replace", folder_turned_read_only)
    report = undo.undo_last_batch()
    assert report.removed == [tmp_path / "IMG_1.jpg.xmp"] and "could not mark the batch undone" in report.unsettled
    monkeypatch.setattr(undo.os, "replace", real_replace)
    again = undo.undo_last_batch()  # the same batch: nothing is changed, and now it is settled
    assert again.batch == report.batch and again.removed == [] and again.unsettled == ""
    assert list_batches() == []
