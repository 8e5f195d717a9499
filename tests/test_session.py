"""The core session: tagging, decisions by (set, label), writing, undo, model changes."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cliptagger.core.media.synthetic import write_demo_folder
from cliptagger.core.metadata.export import ExportFormat
from cliptagger.core.metadata.sidecars import sidecar_path
from cliptagger.core.metadata.xmp import keywords_in_sidecar
from cliptagger.core.session.decisions import Decision, TagKey
from cliptagger.core.session.facade import Session, SessionError
from cliptagger.core.tagging.labels import Label, LabelSet, Mode


def tagged_session(demo_model, label_sets, folder: Path, count: int = 4, seed: int = 11) -> Session:
    photos = [p for p, _ in write_demo_folder(folder, count=count, seed=seed)]
    session = Session(label_sets)
    session.use_model(demo_model)
    outcomes = list(session.tag(photos))
    assert len(outcomes) == count
    return session


def test_untagged_session_refuses_to_tag_without_a_model(tmp_path):
    session = Session([LabelSet("S", (Label("a"), Label("b")))])
    with pytest.raises(SessionError):
        list(session.tag([tmp_path / "x.jpg"]))


def test_same_label_in_two_sets_is_two_decisions(demo_model, tmp_path):
    # "red" is a label of both sets: deciding it in one set must not decide it in the other
    colour = LabelSet("Colour", (Label("red"), Label("blue"), Label("green")), threshold=0.0, max_tags=3)
    mood = LabelSet("Mood", (Label("red"), Label("calm")), mode=Mode.INDEPENDENT, threshold=0.0, max_tags=2)
    session = tagged_session(demo_model, [colour, mood], tmp_path)
    photo = session.paths()[0]
    session.decide([photo], Decision.ACCEPTED, TagKey("Colour", "red"))
    session.decide([photo], Decision.REJECTED, TagKey("Mood", "red"))
    rows = {row.key: row.decision for row in session.review_rows(photo)}
    assert rows[TagKey("Colour", "red")] is Decision.ACCEPTED
    assert rows[TagKey("Mood", "red")] is Decision.REJECTED
    assert session.accepted_keywords(photo) == ["red"]  # accepted in one set: it is written


def test_accept_above_threshold_keeps_explicit_rejections(demo_model, demo_label_sets, tmp_path):
    session = tagged_session(demo_model, demo_label_sets, tmp_path)
    first, second = session.paths()[:2]
    rejected = session.proposed_keys(first)[0]
    session.decide([first], Decision.REJECTED, rejected)
    session.accept_above_threshold()
    assert session.review.get(first)[rejected] is Decision.REJECTED
    assert all(row.decision is Decision.ACCEPTED for row in session.review_rows(second) if row.proposed)
    assert rejected.keyword not in session.accepted_keywords(first)


def test_write_unwritten_and_undo(demo_model, demo_label_sets, tmp_path):
    session = tagged_session(demo_model, demo_label_sets, tmp_path)
    assert session.unwritten() == []
    session.accept_above_threshold()
    assert set(session.unwritten()) == set(session.paths())
    report = session.write()
    assert not report.failed and len(report.written) == 4
    assert session.unwritten() == [] and all(session.is_written(p) for p in session.paths())
    photo = session.paths()[0]
    sidecar = sidecar_path(photo)
    assert sorted(keywords_in_sidecar(sidecar.read_bytes())) == sorted(session.accepted_keywords(photo))
    assert set(session.existing_keywords(photo)) == set(session.accepted_keywords(photo))  # refreshed
    # rejecting a written tag makes the photo unwritten; writing again takes the tag out
    dropped = session.proposed_keys(photo)[0]
    session.decide([photo], Decision.REJECTED, dropped)
    assert session.unwritten() == [photo]
    session.write()
    assert dropped.keyword not in keywords_in_sidecar(sidecar.read_bytes())
    undone = session.undo()
    assert undone.restored == [sidecar]
    assert dropped.keyword in keywords_in_sidecar(sidecar.read_bytes())
    assert session.unwritten() == [photo]                    # the undone write counts as not written
    assert dropped.keyword in session.existing_keywords(photo)  # and the panel's list follows the file


def test_same_model_keeps_results_and_decisions_another_drops_them(demo_model, demo_label_sets, tmp_path):
    from cliptagger.core.model.clip import load_model
    from cliptagger.core.model.weights import request_for

    session = tagged_session(demo_model, demo_label_sets, tmp_path)
    session.accept_above_threshold()
    decided = session.review.count()
    reloaded = load_model(request_for("demo"), device="cpu", precision="fp32")  # e.g. another device
    assert not session.would_discard_results(reloaded.model_id)
    encoded = []
    reloaded.encode_listeners.append(encoded.append)
    assert session.use_model(reloaded) is True
    assert session.review.count() == decided and len(session.results()) == 4 and encoded == []
    other = load_model(request_for("demo"), device="cpu", random_weights=True)
    assert session.would_discard_results(other.model_id)
    assert session.use_model(other) is False
    assert session.results() == [] and session.review.count() == 0 and len(session.pending()) == 4


def test_rescore_keeps_decisions_of_labels_that_remain(demo_model, demo_label_sets, tmp_path):
    session = tagged_session(demo_model, demo_label_sets, tmp_path)
    session.accept_above_threshold()
    photo = session.paths()[0]
    shape_key = next(k for k in session.proposed_keys(photo) if k.label_set == "Shape")
    encoded = []
    demo_model.encode_listeners.append(encoded.append)
    try:
        session.rescore(demo_label_sets[:1])      # only Shape remains
        assert encoded == []
        assert session.accepted_keywords(photo) == [shape_key.keyword]
        session.rescore(demo_label_sets)          # the other sets come back, and so do their decisions
        assert len(session.accepted_keywords(photo)) == 3
    finally:
        demo_model.encode_listeners.remove(encoded.append)


def test_exports_say_what_was_accepted(demo_model, demo_label_sets, tmp_path):
    session = tagged_session(demo_model, demo_label_sets, tmp_path / "photos")
    with pytest.raises(SessionError):
        session.export(tmp_path / "tags.csv", ExportFormat.EXIFTOOL)  # nothing accepted yet
    photo = session.paths()[0]
    session.decide([photo], Decision.ACCEPTED)
    report = session.export(tmp_path / "scores.csv", ExportFormat.SCORES)
    rows = {r["path"]: r for r in csv.DictReader((tmp_path / "scores.csv").open(encoding="utf-8-sig"))}
    assert report.rows == 4
    assert rows[str(photo)]["accepted_tags"] == "; ".join(session.accepted_keywords(photo))
    assert all(rows[str(p)]["accepted_tags"] == "" for p in session.paths()[1:])
    exiftool = session.export(tmp_path / "tags.csv", ExportFormat.EXIFTOOL)
    assert exiftool.rows == 1 and "exiftool" in exiftool.command
