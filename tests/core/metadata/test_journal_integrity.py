"""Undo acts only on journal lines cliptagger signed, naming files cliptagger writes.

A planted or edited journal line must never make undo delete or overwrite a file: each line
is chained by an HMAC (key in the journal folder), and every path must be an absolute,
normalised ``*.xmp`` sidecar path. Refused lines are named; the rest of the batch is undone.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cliptagger.core.metadata import journal
from cliptagger.core.metadata.containment import undo_target_problem
from cliptagger.core.metadata.journal import WriteBatch, journal_dir, list_batches, undo_last_batch
from cliptagger.core.metadata.journal_integrity import KEY_FILE
from cliptagger.core.storage.fileio import atomic_write_bytes, sha256


def write_sidecar(path: Path, new: bytes, description: str = "test") -> None:
    """What the sidecar writer does: journal line first, then the file."""
    prior = path.read_bytes() if path.exists() else None
    with WriteBatch(description) as batch:
        batch.record(path, prior, new, added=["dog"])
        atomic_write_bytes(path, new)


def planted_line(path: Path, current: bytes, prior: bytes | None = None, entry_id: int = 99) -> dict:
    """A line that would make undo delete (prior None) or overwrite ``path``."""
    return {"id": entry_id, "path": str(path),
            "path_bytes": base64.b64encode(os.fsencode(path)).decode("ascii"),
            "prior": base64.b64encode(prior).decode("ascii") if prior is not None else None,
            "prior_sha256": sha256(prior) if prior is not None else None,
            "written_sha256": sha256(current), "added": [], "removed": []}


def append_line(batch: Path, record: dict) -> None:
    with open(batch, "a", encoding="ascii") as file:
        file.write(json.dumps(record) + "\n")


def plant_batch(records: list[dict], version: int = 2) -> Path:
    """A whole batch file, unsigned, numbered after every batch there is."""
    folder = journal_dir()
    folder.mkdir(parents=True, exist_ok=True)
    newest = max((journal._sequence(p) for p in folder.iterdir()), default=0)
    batch = folder / f"{newest + 1:012d}.jsonl"
    lines = [json.dumps({"batch": "planted", "started": 0, "version": version})] + [json.dumps(r) for r in records]
    batch.write_text("\n".join(lines) + "\n", encoding="ascii")
    return batch


def test_a_line_planted_in_a_signed_batch_is_refused_and_the_rest_undone(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    ours = photos / "a.xmp"
    write_sidecar(ours, b"<ours/>")
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    victim_xmp = tmp_path / "other" / "victim.xmp"  # even a sidecar path: its line is not ours
    victim_xmp.parent.mkdir()
    victim_xmp.write_bytes(b"theirs")
    batch = list_batches()[-1]
    append_line(batch, planted_line(victim, b"precious"))
    append_line(batch, planted_line(victim_xmp, b"theirs", entry_id=100))

    report = undo_last_batch()

    assert victim.read_bytes() == b"precious" and victim_xmp.read_bytes() == b"theirs"
    assert report.removed == [ours] and not ours.exists()
    refused = dict(report.refused)
    assert set(refused) == {victim, victim_xmp}
    assert all("integrity check" in why for why in refused.values())


def test_an_edited_line_is_refused(tmp_path):
    first, second = tmp_path / "a.xmp", tmp_path / "b.xmp"
    second.write_bytes(b"the user's own sidecar")
    write_sidecar(first, b"<ours/>")
    batch = list_batches()[-1]
    lines = batch.read_text().splitlines()
    edited = [line.replace(json.dumps(str(first))[1:-1], json.dumps(str(second))[1:-1]) for line in lines]
    edited = [json.dumps({**json.loads(line), "path_bytes": base64.b64encode(os.fsencode(second)).decode()})
              if '"path"' in line else line for line in edited]
    batch.write_text("\n".join(edited) + "\n")
    second.write_bytes(b"<ours/>")  # the same bytes we wrote: only the signature tells them apart

    report = undo_last_batch()

    assert second.read_bytes() == b"<ours/>" and first.read_bytes() == b"<ours/>"
    assert [p for p, _ in report.refused] == [second] and report.removed == []


def test_an_unsigned_batch_newer_than_the_key_is_refused(tmp_path):
    write_sidecar(tmp_path / "a.xmp", b"<ours/>")  # the key exists from here on
    victim = tmp_path / "victim.xmp"
    victim.write_bytes(b"precious")
    plant_batch([planted_line(victim, b"precious")])

    report = undo_last_batch()

    assert victim.read_bytes() == b"precious"
    assert [p for p, _ in report.refused] == [victim] and not report.removed


def test_batches_from_before_signing_still_undo_but_only_sidecar_paths(tmp_path):
    """An old journal (no key yet, version 2): undone as before, within the containment rule."""
    ours = tmp_path / "old.xmp"
    ours.write_bytes(b"<ours/>")
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    sneaky = tmp_path / "sub" / ".." / "victim2.xmp"
    (tmp_path / "sub").mkdir()
    (tmp_path / "victim2.xmp").write_bytes(b"precious too")
    plant_batch([planted_line(ours, b"<ours/>", entry_id=0), planted_line(victim, b"precious", entry_id=1),
                 planted_line(sneaky, b"precious too", entry_id=2)])
    write_sidecar(tmp_path / "new.xmp", b"<new/>")  # the key is made now: the old batch is legacy
    assert undo_last_batch().removed == [tmp_path / "new.xmp"]

    report = undo_last_batch()

    assert report.removed == [ours] and not ours.exists()
    assert victim.read_bytes() == b"precious" and (tmp_path / "victim2.xmp").read_bytes() == b"precious too"
    refused = dict(report.refused)
    assert "not an XMP sidecar" in refused[victim] and "normalised" in refused[sneaky]


def test_a_damaged_key_is_set_aside_and_what_it_signed_is_left_alone(tmp_path):
    first = tmp_path / "a.xmp"
    write_sidecar(first, b"<ours/>")
    (journal_dir() / KEY_FILE).write_text("not a key")
    second = tmp_path / "b.xmp"
    write_sidecar(second, b"<ours too/>")  # a new key; the old one is kept aside
    assert list(journal_dir().glob(f"{KEY_FILE}.corrupt-*"))
    assert undo_last_batch().removed == [second]
    report = undo_last_batch()
    assert first.read_bytes() == b"<ours/>" and [p for p, _ in report.refused] == [first]


def test_the_containment_rule(tmp_path):
    inside = tmp_path / "t.xmp"
    assert undo_target_problem(inside) is None
    assert "absolute" in undo_target_problem(Path("rel/t.xmp"))
    assert "normalised" in undo_target_problem(tmp_path / "a" / ".." / "t.xmp")
    assert "XMP" in undo_target_problem(tmp_path / "t.txt")
    assert "XMP" in undo_target_problem(tmp_path / ".xmp")
    (tmp_path / "target.txt").write_text("x")
    (tmp_path / "link.xmp").symlink_to(tmp_path / "target.txt")
    assert "symlink" in undo_target_problem(tmp_path / "link.xmp")
    os.mkfifo(tmp_path / "fifo.xmp")
    assert "regular" in undo_target_problem(tmp_path / "fifo.xmp")


path_parts = st.lists(st.sampled_from(["a", "..", ".", "b.xmp", "victim.txt", "x.XMP", "", "c"]),
                      min_size=1, max_size=5)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(planted=st.lists(st.tuples(path_parts, st.booleans(), st.booleans()), min_size=1, max_size=6))
def test_a_generated_journal_never_touches_a_file_outside_the_rule(tmp_path_factory, planted):
    """Unsigned batches (legacy, or planted) with generated paths: undo touches only files the
    rule allows, whatever the paths say."""
    root = tmp_path_factory.mktemp("tree")
    for name in ("a", "c"):
        (root / name).mkdir()
    victims = {}
    records = []
    for index, (parts, absolute, deletes) in enumerate(planted):
        text = os.path.join(*parts) if parts else "x"
        path = Path(os.path.join(root, text)) if absolute else Path(text)
        try:
            real = Path(os.path.normpath(os.path.join(root, text)))
            if real.parent.is_dir() and not real.is_dir() and real.name:
                real.write_bytes(b"victim %d" % index)
                victims[real] = real.read_bytes()
        except OSError:
            pass
        current = victims.get(Path(os.path.normpath(os.path.join(root, text))), b"victim")
        records.append(planted_line(path, current, prior=None if deletes else b"overwritten", entry_id=index))
    plant_batch(records)
    before = {p: p.read_bytes() for p in victims}
    report = undo_last_batch()
    acted = set(report.removed) | set(report.restored)
    for path, data in before.items():
        if path not in acted:
            assert path.read_bytes() == data
    for path in acted:
        assert undo_target_problem(path) is None and path.name.lower().endswith(".xmp")


def test_a_sidecar_replaced_by_a_broken_link_is_not_followed_by_undo(tmp_path):
    """undo --force restores a deleted sidecar's prior bytes: through a broken link that would
    create the link's target, anywhere. Writes refuse broken links; undo does too."""
    tree, elsewhere = tmp_path / "tree", tmp_path / "elsewhere"
    tree.mkdir()
    elsewhere.mkdir()
    sidecar = tree / "a.xmp"
    sidecar.write_bytes(b"<before/>")
    write_sidecar(sidecar, b"<ours/>")
    sidecar.unlink()
    sidecar.symlink_to(elsewhere / "planted.xmp")
    report = undo_last_batch(force=True)
    assert os.listdir(elsewhere) == []
    assert [p for p, _ in report.refused] == [sidecar] and "broken link" in report.refused[0][1]


def test_a_partial_undo_does_not_sign_a_planted_twin_of_a_line_it_keeps(tmp_path):
    """The lines a partial undo keeps are signed again in the held batch: a planted line with
    the same id and path as a kept one must not come out of that signed."""
    sidecar = tmp_path / "a.xmp"
    sidecar.write_bytes(b"<before/>")
    write_sidecar(sidecar, b"<ours/>")
    batch = list_batches()[-1]
    first_entry = next(json.loads(line) for line in batch.read_text().splitlines() if '"path"' in line)
    twin = {**planted_line(sidecar, b"<ours/>", prior=b"<attacker's/>", entry_id=first_entry["id"])}
    append_line(batch, twin)
    sidecar.write_bytes(b"<changed by the user/>")  # so the real line is kept (held)
    report = undo_last_batch()
    assert report.held is not None and sidecar in dict(report.refused)
    sidecar.write_bytes(b"<ours/>")  # as if the user reverted to our bytes: --force restores a prior
    undo_last_batch(force=True)
    assert sidecar.read_bytes() == b"<before/>"  # the real prior, never the planted one
