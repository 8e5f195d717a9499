"""Every small state file cliptagger keeps, damaged every way a disk or a person can damage it:
truncated, bytes flipped, other JSON types, other versions, invalid UTF-8, absurd numbers,
nested too deeply. Each loader must come back with something usable (the defaults, or what was
intact) and, where it gave up on the file, say so naming the file; never a traceback.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cliptagger.core.storage.strict_json import UntrustedJSONError, loads_untrusted

SETTINGS = {"model": "demo", "device": "cpu", "precision": "fp32", "sidecar_style": "ext",
            "recent_folders": ["/photos/a", "/photos/b"], "target_precision": 0.8}
LABELS = {"format": "cliptagger-labels", "version": 1,
          "label_sets": [{"name": "Scene", "mode": "exclusive", "threshold": 0.3, "max_tags": 1,
                          "templates": "photo", "labels": ["beach", {"name": "dog", "parent": "Animals"}]}]}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)


@st.composite
def damaged(draw, original: bytes) -> bytes:
    """``original`` truncated, with bytes flipped, replaced by other JSON, or made hostile."""
    how = draw(st.sampled_from(["truncate", "flip", "other json", "field", "hostile"]))
    if how == "truncate":
        return original[:draw(st.integers(0, len(original) - 1))]
    if how == "flip":
        data = bytearray(original)
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    if how == "other json":
        return json.dumps(draw(json_values)).encode()
    if how == "field":  # one field of one object in the real file given a value of any type
        document = json.loads(original)
        objects = list(objects_in(document))
        target = objects[draw(st.integers(0, len(objects) - 1))]
        target[draw(st.sampled_from(sorted(target)))] = draw(json_values)
        return json.dumps(document).encode()
    return draw(st.sampled_from([b"\xff\xfe garbage", b"[" * 100_000, b'{"max_tags": 1e999}', b"NaN",
                                 b'{"version": ' + b"9" * 5000 + b"}", b"\x00" * 64, b""]))


def objects_in(value):
    """Every non-empty JSON object in ``value``, outermost first."""
    if isinstance(value, dict):
        if value:
            yield value
        children = value.values()
    else:
        children = value if isinstance(value, list) else []
    for child in children:
        yield from objects_in(child)


def use_private_dirs(monkeypatch, tmp_path) -> Path:
    for name in ("CACHE", "CONFIG", "DATA"):
        (tmp_path / name.lower()).mkdir(exist_ok=True)
        monkeypatch.setenv(f"CLIPTAGGER_{name}_DIR", str(tmp_path / name.lower()))
    return tmp_path


def forget_damaged(folder: Path) -> None:
    for left in folder.glob("*.damaged*"):
        left.unlink()


def plant_damaged(data, path: Path, original: dict) -> bytes:
    """Write a damaged copy of ``original`` (JSON) at ``path``, with no earlier damaged copies
    and no notices left over from the last example; returns what was written."""
    from cliptagger.settings import take_state_notices

    forget_damaged(path.parent)
    take_state_notices()
    content = data.draw(damaged(json.dumps(original).encode()))
    path.write_bytes(content)
    return content


ANY_DAMAGE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@ANY_DAMAGE
@given(data=st.data())
def test_damaged_settings_give_valid_settings_and_a_notice_naming_the_file(monkeypatch, tmp_path, data):
    from cliptagger.core.metadata.sidecars import SidecarStyle
    from cliptagger.core.model.precision import Precision
    from cliptagger.settings import Settings, load_settings, settings_path, take_state_notices

    use_private_dirs(monkeypatch, tmp_path)
    path = settings_path()
    content = plant_damaged(data, path, SETTINGS)
    loaded = load_settings()
    defaults = Settings()
    for name, value in vars(loaded).items():
        assert type(value) is type(getattr(defaults, name)), name
    assert loaded.sidecar_style in {s.value for s in SidecarStyle}
    assert loaded.precision in {p.value for p in Precision}
    assert all(isinstance(folder, str) for folder in loaded.recent_folders)
    assert math.isfinite(loaded.target_precision)
    notices = take_state_notices()
    if not path.exists():  # given up on: kept aside whole, and said
        assert (path.parent / "settings.json.damaged").read_bytes() == content
        assert len(notices) == 1 and str(path) in notices[0]


def test_an_earlier_damaged_copy_is_never_replaced(monkeypatch, tmp_path):
    from cliptagger.settings import load_settings, settings_path, take_state_notices

    use_private_dirs(monkeypatch, tmp_path)
    path = settings_path()
    for text in ("{first", "{second"):
        path.write_text(text)
        load_settings()
    assert (path.parent / "settings.json.damaged").read_text() == "{first"
    assert (path.parent / "settings.json.damaged-2").read_text() == "{second"
    assert len(take_state_notices()) == 2


@ANY_DAMAGE
@given(data=st.data())
def test_damaged_user_label_sets_give_the_bundled_sets_and_a_notice(monkeypatch, tmp_path, data):
    from cliptagger.settings import take_state_notices
    from cliptagger.user_label_sets import default_label_sets, label_sets_path, load_user_label_sets

    use_private_dirs(monkeypatch, tmp_path)
    path = label_sets_path()
    content = plant_damaged(data, path, LABELS)
    sets = load_user_label_sets()
    assert sets and all(s.labels for s in sets)
    if not path.exists():
        assert [s.name for s in sets] == [s.name for s in default_label_sets()]
        assert (path.parent / "label-sets.json.damaged").read_bytes() == content
        [notice] = take_state_notices()
        assert str(path) in notice and "label sets" in notice


def valid_heads_file(model_id: str) -> bytes:
    import torch

    from cliptagger.core.learning.head_store import LearnedModel
    from cliptagger.core.tagging.head_scoring import LabelStats, SetHead
    from cliptagger.core.tagging.labels import Mode

    head = SetHead("Scene", Mode.EXCLUSIVE, ("beach", "Animals|dog"), torch.ones(2, 4), torch.zeros(2),
                   [LabelStats("beach", 5, 5, 0.5, 0.9, True, 0.4), LabelStats("Animals|dog", 5, 5, 0.5, 0.9, True)])
    return LearnedModel(model_id, {"Scene": head}).to_json().encode()


@ANY_DAMAGE
@given(data=st.data())
def test_a_damaged_heads_file_is_named_and_zero_shot_goes_on(monkeypatch, tmp_path, data):
    import torch

    from cliptagger.core.learning.head_store import heads_path, load_learned
    from cliptagger.core.tagging.head_scoring import set_probabilities
    from cliptagger.core.tagging.labels import parse_label_sets
    from cliptagger.core.tagging.scoring import SetPrototypes

    use_private_dirs(monkeypatch, tmp_path)
    model_id = "tiny@sha256:abc"
    path = heads_path(model_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.draw(damaged(valid_heads_file(model_id))))
    learned, warnings = load_learned(model_id)
    assert learned.model_id == model_id
    assert all(str(path) in warning for warning in warnings)
    if warnings:
        assert learned.heads == {}
    [scene] = parse_label_sets(json.dumps(LABELS))
    prototypes = SetPrototypes(scene, torch.nn.functional.normalize(torch.randn(2, 4), dim=-1))
    for head in learned.heads.values():  # whatever was read can be scored with, or is left out
        probabilities = set_probabilities(torch.randn(3, 4), prototypes, 100.0, head)
        assert torch.isfinite(probabilities).all()


def test_a_head_of_another_embedding_size_is_left_out_not_a_shape_error():
    import torch

    from cliptagger.core.tagging.head_scoring import LabelStats, SetHead, set_probabilities
    from cliptagger.core.tagging.labels import Mode, parse_label_sets
    from cliptagger.core.tagging.scoring import SetPrototypes, probabilities

    [scene] = parse_label_sets(json.dumps(LABELS))
    head = SetHead("Scene", Mode.EXCLUSIVE, ("beach", "Animals|dog"), torch.ones(2, 8), torch.zeros(2),
                   [LabelStats("beach", used=True), LabelStats("Animals|dog", used=True)])
    prototypes = SetPrototypes(scene, torch.nn.functional.normalize(torch.randn(2, 4), dim=-1))
    images = torch.randn(3, 4)
    assert torch.equal(set_probabilities(images, prototypes, 100.0, head), probabilities(images, prototypes, 100.0))


@ANY_DAMAGE
@given(data=st.data())
def test_a_damaged_precision_probe_is_measured_again_not_a_traceback(monkeypatch, tmp_path, data):
    from cliptagger.core.model import precision

    use_private_dirs(monkeypatch, tmp_path)
    good = {"cpu | torch x | tiny": {"precision": "bf16", "rates": {"fp32": 10.0, "bf16": 20.0}, "decided": True}}
    path = Path(tmp_path / "cache" / precision.PROBE_FILE)
    path.write_bytes(data.draw(damaged(json.dumps(good).encode())))
    for choice in precision.cached_choices("tiny"):
        assert choice.precision in ("fp32", "bf16") and all(math.isfinite(v) for v in choice.rates.values())


@pytest.mark.parametrize("text, reason", [
    ("[" * 50_000 + "]" * 50_000, "nested far too deeply"),
    ('{"a": 1e999}', "too large"),
    ('{"a": -Infinity}', "not a number JSON allows"),
    ('{"a": ' + "1" * 5000 + "}", "5000-digit"),
    ("{'a': 1}", "not valid JSON"),
])
def test_untrusted_json_gives_a_reason_in_words(text, reason):
    with pytest.raises(UntrustedJSONError, match=reason):
        loads_untrusted(text)


def test_a_root_keyword_or_app_the_settings_cannot_use_falls_back_to_none(monkeypatch, tmp_path):
    from cliptagger.settings import load_settings, settings_path

    use_private_dirs(monkeypatch, tmp_path)
    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text(json.dumps({"keyword_root": "AI\u0001", "target_app": "picasa"}))
    loaded = load_settings()
    assert loaded.keyword_root == "" and loaded.target_app == "custom"
    settings_path().write_text(json.dumps({"keyword_root": " AI|CLIP ", "target_app": "darktable"}))
    assert (load_settings().keyword_root, load_settings().target_app) == (" AI|CLIP ", "darktable")
