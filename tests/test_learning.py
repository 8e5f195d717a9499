"""Learning from the user's decisions: the examples store, the heads, the never-worse rule."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from cliptagger.core.learning.examples import ExampleStore
from cliptagger.core.learning.head_store import heads_path, load_learned
from cliptagger.core.media.synthetic import BACKGROUNDS, COLOURS, SHAPES, Scene, render
from cliptagger.core.session.decisions import Decision, TagKey
from cliptagger.core.session.facade import Session
from cliptagger.core.tagging.labels import Label, LabelSet, Mode

KEEPERS = LabelSet("Personal", (Label("keepers"),), mode=Mode.INDEPENDENT, threshold=0.5)
KEY = TagKey("Personal", "keepers")


def is_keeper(scene: Scene) -> bool:
    return scene.shape == "circle" and scene.colour in ("red", "blue") and scene.background == "striped"


def keeper_pictures(folder: Path, count: int, seed: int) -> tuple[list[Path], list[Path]]:
    """``count`` keepers (red or blue circles on stripes) and ``count`` other pictures."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    keepers, others = [], []
    while len(keepers) < count or len(others) < count:
        if len(keepers) < count and (rng.random() < 0.5 or len(others) >= count):
            scene = Scene("circle", rng.choice(["red", "blue"]), "striped")
        else:
            scene = Scene(rng.choice(SHAPES), rng.choice(list(COLOURS)), rng.choice(BACKGROUNDS))
            if is_keeper(scene):
                continue
        target = keepers if is_keeper(scene) else others
        path = folder / f"{'k' if target is keepers else 'o'}{len(target):02d}-{scene.file_stem}.jpg"
        render(scene, size=128, seed=rng.randrange(1 << 30)).save(path, quality=92)
        target.append(path)
    return keepers, others


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keepers")
    train = keeper_pictures(folder / "train", 10, seed=5)
    test = keeper_pictures(folder / "test", 20, seed=6)
    return train, test


def session_for(demo_model, paths) -> Session:
    session = Session([KEEPERS])
    session.use_model(demo_model)
    assert len(list(session.tag(paths))) == len(paths)
    return session


def keeper_probabilities(session: Session, paths) -> list[float]:
    return [session.result(p).scores[0].probabilities[0] for p in paths]


def accuracy(session: Session, keepers, others) -> float:
    right = sum(p >= 0.5 for p in keeper_probabilities(session, keepers))
    right += sum(p < 0.5 for p in keeper_probabilities(session, others))
    return right / (len(keepers) + len(others))


def test_one_example_leaves_zero_shot_exactly(demo_model, pictures):
    (keepers, others), _ = pictures
    everything = keepers + others
    session = session_for(demo_model, everything)
    zero_shot = keeper_probabilities(session, everything)
    session.decide([keepers[0]], Decision.ACCEPTED, KEY)
    heads = session.relearn()
    stat = heads["Personal"].stat("keepers")
    assert (stat.positives, stat.negatives, stat.used) == (1, 0, False)
    assert keeper_probabilities(session, everything) == zero_shot


def test_contradictory_examples_leave_zero_shot_exactly(demo_model, pictures, tmp_path):
    (keepers, others), _ = pictures
    # the same pictures under other names, decided the other way: nothing consistent to learn
    twins = [Path(shutil.copy(p, tmp_path / f"twin-{p.name}")) for p in keepers[:6]]
    everything = keepers[:6] + twins + others
    session = session_for(demo_model, everything)
    zero_shot = keeper_probabilities(session, everything)
    session.decide(keepers[:6], Decision.ACCEPTED, KEY)
    session.decide(twins, Decision.REJECTED, KEY)
    stat = session.relearn()["Personal"].stat("keepers")
    assert (stat.positives, stat.negatives) == (6, 6)
    assert not stat.used
    assert keeper_probabilities(session, everything) == zero_shot


def test_consistent_examples_raise_held_out_accuracy_without_encoding(demo_model, pictures):
    (keepers, others), (test_keepers, test_others) = pictures
    session = session_for(demo_model, keepers + others + test_keepers + test_others)
    zero_shot = accuracy(session, test_keepers, test_others)
    before = keeper_probabilities(session, test_keepers)
    session.decide(keepers[:8], Decision.ACCEPTED, KEY)
    session.decide(others[:8], Decision.REJECTED, KEY)
    calls: list[int] = []
    demo_model.encode_listeners.append(calls.append)
    try:
        stat = session.relearn()["Personal"].stat("keepers")
    finally:
        demo_model.encode_listeners.remove(calls.append)
    assert calls == []  # re-learning and re-scoring use the embeddings already computed
    assert stat.used and stat.learned_accuracy > stat.zero_shot_accuracy
    learned = accuracy(session, test_keepers, test_others)
    assert learned >= 0.85 and learned > zero_shot + 0.2, (learned, zero_shot)
    assert "learned from 8 ✓ / 8 ✗" in stat.summary()
    # side by side: the zero-shot probability is still at hand after learning
    assert [session.zero_shot_probability(p, KEY) for p in test_keepers] == pytest.approx(before, abs=1e-6)
    assert keeper_probabilities(session, test_keepers) != pytest.approx(before, abs=1e-3)


def test_examples_and_heads_survive_a_new_session_and_can_be_forgotten(demo_model, pictures):
    (keepers, others), (test_keepers, test_others) = pictures
    first = session_for(demo_model, keepers + others)
    first.decide(keepers[:8], Decision.ACCEPTED, KEY)
    first.decide(others[:8], Decision.REJECTED, KEY)
    first.relearn()
    assert ExampleStore().counts(demo_model.model_id) == {("Personal", "keepers"): (8, 8)}
    learned, problems = load_learned(demo_model.model_id)
    assert not problems and learned.heads["Personal"].stat("keepers").used
    assert load_learned("another-model")[0].heads == {}  # heads are per model id
    assert heads_path(demo_model.model_id) != heads_path("another-model")

    second = session_for(demo_model, test_keepers + test_others)  # a restart: heads from the data folder
    assert accuracy(second, test_keepers, test_others) >= 0.85
    zero = Session([KEEPERS], __import__("cliptagger.core.session.facade", fromlist=["EngineOptions"]).EngineOptions(
        use_learned=False))
    zero.use_model(demo_model)
    list(zero.tag(test_keepers + test_others))
    assert accuracy(zero, test_keepers, test_others) < 0.7  # the label text cannot say what a keeper is

    assert second.forget_examples("Personal", "keepers") == 16
    assert ExampleStore().counts(demo_model.model_id) == {}
    assert keeper_probabilities(second, test_keepers) == keeper_probabilities(zero, test_keepers)


def test_undeciding_removes_the_example(demo_model, pictures):
    (keepers, others), _ = pictures
    session = session_for(demo_model, keepers[:2])
    session.decide(keepers[:2], Decision.ACCEPTED, KEY)
    assert ExampleStore().counts(demo_model.model_id) == {("Personal", "keepers"): (2, 0)}
    session.decide(keepers[:1], None, KEY)
    assert ExampleStore().counts(demo_model.model_id) == {("Personal", "keepers"): (1, 0)}


def test_a_corrupt_heads_file_is_reported_and_set_aside(demo_model, pictures):
    (keepers, others), _ = pictures
    location = heads_path(demo_model.model_id)
    location.parent.mkdir(parents=True, exist_ok=True)
    location.write_text("{not json", encoding="utf-8")
    session = session_for(demo_model, keepers[:3] + others[:3])
    assert session.learn_warnings and "could not be read" in session.learn_warnings[0]
    session.decide(keepers[:3], Decision.ACCEPTED, KEY)
    session.decide(others[:3], Decision.REJECTED, KEY)
    session.relearn()
    assert list(location.parent.glob(location.name + ".corrupt-*"))  # kept, not overwritten blindly
    assert load_learned(demo_model.model_id)[0].heads["Personal"].stat("keepers").positives == 3


def test_learned_heads_travel_with_a_label_export(demo_model, pictures, tmp_path):
    import torch

    from cliptagger.core.learning.head_store import LearnedModel, heads_for_export, import_heads
    from cliptagger.core.tagging.labels import (
        load_label_sets,
        load_learned_blocks,
        save_label_sets,
    )

    (keepers, others), _ = pictures
    session = session_for(demo_model, keepers + others)
    session.decide(keepers[:8], Decision.ACCEPTED, KEY)
    session.decide(others[:8], Decision.REJECTED, KEY)
    session.relearn()
    learned = session.learned
    assert learned is not None and "Personal" in learned.heads
    head = learned.heads["Personal"]

    exported = tmp_path / "sets.json"
    sets = session.label_sets
    save_label_sets(exported, sets, heads_for_export(learned, [s.name for s in sets]))
    assert [s.name for s in load_label_sets(exported)] == [s.name for s in sets]  # still a plain label file
    blocks = load_learned_blocks(exported)
    assert set(blocks) == {"Personal"} and set(blocks["Personal"]) == {demo_model.model_id}

    elsewhere = LearnedModel(demo_model.model_id)
    assert import_heads(elsewhere, blocks, {"Personal": "Personal 2"}) == (1, [])
    back = elsewhere.heads["Personal 2"]
    assert back.keywords == head.keywords and back.stats == head.stats
    assert torch.allclose(back.weight, head.weight, atol=1e-6) and torch.equal(back.bias, head.bias)
    other_model = LearnedModel("another-model")
    assert import_heads(other_model, blocks) == (0, []) and not other_model.heads


def test_a_labels_threshold_override_beats_calibrated_and_set_thresholds(demo_model, pictures, tmp_path):
    import torch

    from cliptagger.core.tagging.head_scoring import LabelStats, SetHead, calibrated_threshold, label_thresholds
    from cliptagger.core.tagging.labels import load_label_sets, save_label_sets

    two = LabelSet("Pair", (Label("a"), Label("b", threshold=0.25)), mode=Mode.INDEPENDENT, threshold=0.5)
    head = SetHead("Pair", Mode.INDEPENDENT, ("a", "b"), torch.zeros(2, 4), torch.zeros(2),
                   [LabelStats("a", threshold=0.7), LabelStats("b", threshold=0.8)])
    assert label_thresholds(two, head) == [0.7, 0.25]       # calibrated for a; b's override wins
    assert label_thresholds(two, None) == [0.5, 0.25]
    assert calibrated_threshold(head, two, "b") == 0.8       # still shown next to the override
    save_label_sets(tmp_path / "pair.json", [two])
    assert load_label_sets(tmp_path / "pair.json") == [two]

    (keepers, others), _ = pictures
    session = Session([KEEPERS.with_changes(labels=(Label("keepers", threshold=0.0),))])
    session.use_model(demo_model)
    results = list(session.tag(others))  # zero-shot, no head: an override of 0 proposes on every photo
    assert all(session.proposed_keys(path) == [KEY] for path in others), results


def test_accuracy_from_one_or_two_examples_is_not_shown_as_a_measurement():
    from cliptagger.core.tagging.head_scoring import LabelStats

    assert LabelStats("a", 1, 3, 1.0, None, False).summary() == \
        "learned from 1 ✓ / 3 ✗, too few to measure accuracy (zero-shot kept)"
    assert "held-out accuracy 90%" in LabelStats("a", 3, 3, 0.5, 0.9, True).summary()
