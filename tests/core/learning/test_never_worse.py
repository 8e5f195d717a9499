"""Learning never hides a right tag that zero-shot finds (issue 19, item 1): on the user's own
decisions by construction, on new photos by the calibration rule; through the Session and the
CLI alike."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cliptagger import cli
from cliptagger.core.learning.never_worse import proposed
from cliptagger.core.learning.training import train_set_head
from cliptagger.core.media.synthetic import write_demo_folder
from cliptagger.core.session.decisions import Decision, TagKey
from cliptagger.core.session.facade import Session
from cliptagger.core.tagging.labels import Label, LabelSet, Mode
from cliptagger.core.tagging.scoring import SetPrototypes

TRUTH_ATTRIBUTE = {"Shape": "shape", "Colour": "colour", "Background": "background"}


def proposals_of(session: Session, path: Path) -> dict[str, set[str]]:
    return {s.label_set.name: {p.label.name for p in s.proposals} for s in session.result(path).scores}


def test_accepting_the_right_tags_on_24_pictures_hides_no_right_tag_on_24_new_ones(
        demo_model, demo_label_sets, tmp_path, capsys):
    train = write_demo_folder(tmp_path / "train", count=24, seed=11, size=128)
    new = write_demo_folder(tmp_path / "new", count=24, seed=12, size=128)
    truth = {path: scene for path, scene in train + new}
    session = Session(demo_label_sets)
    session.use_model(demo_model)
    assert len(list(session.tag([p for p, _ in train + new]))) == 48
    zero_shot = {path: proposals_of(session, path) for path, _ in new}

    accepted = 0
    for path, scene in train:
        for set_name, labels in proposals_of(session, path).items():
            right = getattr(scene, TRUTH_ATTRIBUTE[set_name])
            if right in labels:
                keyword = next(l.keyword for s in demo_label_sets if s.name == set_name
                               for l in s.labels if l.name == right)
                accepted += session.decide([path], Decision.ACCEPTED, TagKey(set_name, keyword))
    assert accepted >= 60  # the demo model gets most of them right zero-shot
    heads = session.relearn()
    assert heads and any(stat.threshold is not None for head in heads.values() for stat in head.stats)

    hidden = []
    for path, _ in new:
        learned = proposals_of(session, path)
        for set_name, labels in zero_shot[path].items():
            right = getattr(truth[path], TRUTH_ATTRIBUTE[set_name])
            if right in labels and right not in learned[set_name]:
                hidden.append((path.name, set_name, right))
    assert hidden == []
    for path, _ in train:  # and on the photos decided: every accepted tag is still proposed
        for set_name, labels in proposals_of(session, path).items():
            right = getattr(truth[path], TRUTH_ATTRIBUTE[set_name])
            assert right in labels or right not in zero_shot_like(session, path, set_name)

    # the CLI, on the heads and decisions this session stored: learned keeps every right zero-shot tag
    assert list((Path(os.environ["CLIPTAGGER_DATA_DIR"]) / "heads").glob("*.json"))  # the CLI reads these
    by_mode = {}
    for flags in ([], ["--zero-shot"]):
        assert cli.main(["tag", str(tmp_path / "new"), "--model", "demo", "--device", "cpu", "--precision", "fp32",
                         "--json", "--quiet",
                         *flags]) == 0
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        by_mode[bool(flags)] = {Path(r["path"]).name: set(r["keywords"]) for r in lines}
    keyword_of = {l.name: l.keyword for s in demo_label_sets for l in s.labels}
    for path, scene in new:
        right = {keyword_of[getattr(scene, attribute)] for attribute in TRUTH_ATTRIBUTE.values()}
        assert (by_mode[True][path.name] & right) <= by_mode[False][path.name], path.name


def zero_shot_like(session: Session, path: Path, set_name: str) -> set[str]:
    """Zero-shot's proposals for one photo and set, from the session's zero-shot probabilities."""
    label_set = next(s for s in session.label_sets if s.name == set_name)
    probabilities = [session.zero_shot_probability(path, TagKey(set_name, l.keyword)) for l in label_set.labels]
    ranked = sorted(zip(probabilities, (l.name for l in label_set.labels)), reverse=True)
    return {name for p, name in ranked[:label_set.max_tags] if p >= label_set.threshold}


@st.composite
def decided_sets(draw):
    """Random embeddings, prototypes and decisions for an exclusive or independent set."""
    mode = draw(st.sampled_from(list(Mode)))
    labels = draw(st.integers(2, 4))
    photos = draw(st.integers(6, 40))
    dim = 8
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    x = torch.nn.functional.normalize(torch.randn(photos, dim, generator=generator), dim=-1)
    text = torch.nn.functional.normalize(torch.randn(labels, dim, generator=generator), dim=-1)
    baseline = torch.nn.functional.normalize(torch.randn(dim, generator=generator), dim=0)
    label_set = LabelSet("S", tuple(Label(f"l{j}") for j in range(labels)), mode=mode,
                         threshold=draw(st.sampled_from([0.2, 0.3, 0.5])),
                         max_tags=draw(st.integers(1, labels)) if mode is Mode.INDEPENDENT else 1)
    decisions = draw(st.lists(st.tuples(st.integers(0, photos - 1), st.integers(0, labels - 1), st.booleans()),
                              min_size=4, max_size=80))
    return label_set, SetPrototypes(label_set, text, baseline if mode is Mode.INDEPENDENT else None), x, decisions


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=decided_sets())
def test_learned_proposals_never_drop_an_accepted_tag_zero_shot_proposed(case):
    from cliptagger.core.learning.examples import Example

    label_set, prototypes, x, decisions = case
    latest = {(i, j): positive for i, j, positive in decisions}
    examples = [Example(Path(f"/p/{i}.jpg"), "m", label_set.name, label_set.labels[j].keyword, positive, x[i])
                for (i, j), positive in latest.items()]
    head = train_set_head(examples, prototypes, 30.0)
    if head is None:
        return
    photos = sorted({i for i, _ in latest})
    zero = proposed(x[photos], prototypes, 30.0, None)
    learned = proposed(x[photos], prototypes, 30.0, head)
    for row, i in enumerate(photos):
        accepted = {j for (p, j), positive in latest.items() if p == i and positive}
        if label_set.mode is Mode.EXCLUSIVE and len(accepted) > 1:
            accepted = {min(accepted)}  # an exclusive photo's class is its first accepted label (_build_problem)
        assert (zero[row] & accepted) <= learned[row], (i, zero[row], learned[row], accepted)
