"""The undo journal is bounded: the oldest undone batches go first, the newest stay undoable,
and nothing that is not the journal's own batch file is ever removed."""

from __future__ import annotations

import os

import pytest

from cliptagger.core.metadata import journal, undo
from cliptagger.core.metadata.journal_retention import JournalRetention, journal_files, prune, usage
from cliptagger.core.metadata.sidecars import write_sidecars
from tests.helpers import photo


@pytest.fixture(autouse=True)
def private_folders(tmp_path, monkeypatch):
    for name in ("DATA", "CACHE", "CONFIG"):
        folder = tmp_path / name.lower()
        folder.mkdir()
        monkeypatch.setenv(f"CLIPTAGGER_{name}_DIR", str(folder))


def write_batches(tmp_path, count: int) -> list:
    """``count`` batches, each giving one photo's sidecar a new keyword; returns the photos."""
    photos = [photo(tmp_path / f"p{i}.jpg", size=32) for i in range(count)]
    for index, picture in enumerate(photos):
        (tmp_path / f"p{index}.jpg.xmp").unlink(missing_ok=True)
        write_sidecars({picture: [f"keyword{index}"]})
    return photos


def test_pruning_keeps_the_newest_batches_undoable_and_byte_exact(tmp_path, monkeypatch):
    monkeypatch.setenv("CLIPTAGGER_JOURNAL_MAX_BATCHES", "3")
    photos = write_batches(tmp_path, 6)
    files = journal_files()
    assert [f.suffix for f in files] == [".jsonl"] * 3  # pruned after each write: never more than 3
    for picture in reversed(photos[3:]):  # the three newest still undo, newest first
        report = undo.undo_last_batch()
        assert report.removed == [tmp_path / f"{picture.name}.xmp"]
        assert not (tmp_path / f"{picture.name}.xmp").exists()
    assert undo.undo_last_batch().batch is None
    for picture in photos[:3]:  # the pruned batches' sidecars stay as they were written
        assert (tmp_path / f"{picture.name}.xmp").exists()


def test_undone_batches_go_first_and_the_newest_is_never_removed(tmp_path):
    write_batches(tmp_path, 4)
    undo.undo_last_batch()  # batch 4 is now .undone (the newest file, but no use any more)
    undo.undo_last_batch()  # batch 3 too
    removed = prune(JournalRetention(max_batches=3))
    assert [p.name for p in removed] == ["000000000003.undone"]  # undone first, although newer than 1 and 2
    removed = prune(JournalRetention(max_batches=1))
    # then the oldest undoable; the newest undoable (2) and the highest number (4) always stay
    assert [p.name for p in removed] == ["000000000001.jsonl"]
    assert [f.path.name for f in journal_files()] == ["000000000002.jsonl", "000000000004.undone"]
    assert prune(JournalRetention(max_batches=1, max_bytes=1)) == []  # the newest stays whatever its size


def test_a_pruned_batch_number_is_never_reused(tmp_path):
    write_batches(tmp_path, 3)
    undo.undo_last_batch()  # 3 is undone and has the highest number
    prune(JournalRetention(max_batches=1))
    (tmp_path / "more").mkdir()
    write_batches(tmp_path / "more", 1)
    assert max(f.sequence for f in journal_files()) == 4  # after 3, not a reused 3


def test_the_byte_budget_holds(tmp_path):
    write_batches(tmp_path, 5)
    sizes = [f.size for f in journal_files()]
    budget = sum(sizes[-2:])
    prune(JournalRetention(max_batches=100, max_bytes=budget))
    assert usage().bytes <= budget and len(journal_files()) == 2


def test_only_the_journals_own_files_are_ever_removed(tmp_path):
    write_batches(tmp_path, 2)
    folder = journal.journal_dir()
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's")
    os.symlink(victim, folder / "000000000000.undone")  # a planted link named like a batch
    (folder / "notes.txt").write_text("not ours")
    (folder / "000000000009.undone.bak").write_text("not ours either")
    prune(JournalRetention(max_batches=1, max_bytes=1))
    assert victim.read_text() == "the user's" and (folder / "000000000000.undone").is_symlink()
    assert (folder / "notes.txt").exists() and (folder / "000000000009.undone.bak").exists()


def test_a_damaged_batch_file_is_pruned_like_any_other_without_a_traceback(tmp_path):
    write_batches(tmp_path, 2)
    oldest = journal_files()[0].path
    oldest.write_bytes(b"\x00\xff not json at all")
    assert prune(JournalRetention(max_batches=1)) == [oldest]


def test_undo_list_shows_the_journal_and_its_limits(tmp_path, capsys):
    from cliptagger import cli

    write_batches(tmp_path, 2)
    assert cli.main(["undo", "--list"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2  # one line a batch
    assert "journal: 2 batch file(s)" in captured.err and "keeps at most 100 / 256 MiB" in captured.err
