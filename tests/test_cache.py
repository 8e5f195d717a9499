"""The embedding cache: re-tagging reads no image, changes are noticed, damage is survived."""

from __future__ import annotations

import os
import subprocess
import sys

import torch

from cliptagger.core.media.synthetic import write_demo_folder
from cliptagger.core.tagging import engine as engine_module
from cliptagger.core.tagging.cache import EmbeddingCache
from cliptagger.core.tagging.engine import ImageResult, TaggingEngine
from cliptagger.core.tagging.labels import Label, LabelSet, Mode


def test_round_trip_and_invalidation(tmp_path):
    cache = EmbeddingCache(tmp_path / "c.sqlite3")
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"pretend")
    vector = torch.nn.functional.normalize(torch.randn(64), dim=0)
    cache.store([(photo, vector)], "m@1")
    assert torch.equal(cache.lookup([photo], "m@1")[photo], vector)
    assert cache.lookup([photo], "other-model") == {}
    photo.write_bytes(b"pretend, but changed")  # new size and mtime: re-encode
    assert cache.lookup([photo], "m@1") == {}
    cache.store([(photo, vector)], "m@1")
    os.utime(photo, ns=(1, 1))
    assert cache.lookup([photo], "m@1") == {}


def test_prune_forgets_moved_and_deleted(tmp_path):
    cache = EmbeddingCache(tmp_path / "c.sqlite3")
    keep, gone = tmp_path / "keep.jpg", tmp_path / "gone.jpg"
    for path in (keep, gone):
        path.write_bytes(path.name.encode())
    cache.store([(keep, torch.ones(4)), (gone, torch.ones(4))], "m")
    gone.rename(tmp_path / "moved.jpg")
    assert cache.prune() == 1
    assert cache.count() == 1 and keep in cache.lookup([keep], "m")


def test_corrupt_cache_is_set_aside_and_rebuilt(tmp_path):
    location = tmp_path / "c.sqlite3"
    location.write_bytes(b"this is not a database" * 100)
    cache = EmbeddingCache(location)
    assert cache.warnings and "set aside" in cache.warnings[0]
    assert list(tmp_path.glob("c.sqlite3.corrupt-*"))
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    cache.store([(photo, torch.ones(3))], "m")
    assert cache.count() == 1


def test_two_processes_share_the_cache(tmp_path):
    location = tmp_path / "c.sqlite3"
    files = []
    for index in range(200):
        path = tmp_path / f"{index}.jpg"
        path.write_bytes(str(index).encode())
        files.append(path)
    script = (
        "import sys, torch; from pathlib import Path; from cliptagger.core.tagging.cache import EmbeddingCache\n"
        f"c = EmbeddingCache(Path({str(location)!r}))\n"
        f"paths = [Path({str(tmp_path)!r}) / f'{{i}}.jpg' for i in range(100, 200)]\n"
        "for p in paths: c.store([(p, torch.ones(8))], 'm')\n"
    )
    other = subprocess.Popen([sys.executable, "-c", script])
    mine = EmbeddingCache(location)
    for path in files[:100]:
        mine.store([(path, torch.zeros(8))], "m")
    assert other.wait(timeout=120) == 0
    assert mine.count("m") == 200


def test_retagging_with_new_labels_reads_no_image(tmp_path, demo_model, demo_label_sets, monkeypatch):
    pictures = [p for p, _ in write_demo_folder(tmp_path / "photos", count=12, seed=3)]
    cache = EmbeddingCache(tmp_path / "c.sqlite3")
    first = list(TaggingEngine(demo_model, demo_label_sets, cache=cache).run(pictures))
    assert cache.count(demo_model.model_id) == 12

    def no_decoding(*_args, **_kwargs):
        raise AssertionError("an image was decoded again")

    monkeypatch.setattr(engine_module, "load_rgb", no_decoding)
    encoded = []
    demo_model.encode_listeners.append(encoded.append)
    try:
        new_sets = [LabelSet("Things", (Label("circle"), Label("star"), Label("red")), mode=Mode.INDEPENDENT)]
        again = list(TaggingEngine(demo_model, new_sets, cache=cache).run(pictures))
    finally:
        demo_model.encode_listeners.remove(encoded.append)
    assert encoded == []
    assert all(isinstance(o, ImageResult) for o in again)
    assert [o.scores[0].label_set.name for o in again] == ["Things"] * 12
    for a, b in zip(first, again):
        assert torch.allclose(a.embedding, b.embedding)


def test_stop_with_cached_photos_in_the_look_ahead(tmp_path, demo_model, demo_label_sets):
    import threading

    pictures = [p for p, _ in write_demo_folder(tmp_path / "photos", count=8, seed=4)]
    cache = EmbeddingCache(tmp_path / "c.sqlite3")
    list(TaggingEngine(demo_model, demo_label_sets, cache=cache).run(pictures[:4]))  # half cached
    cancel = threading.Event()
    cancel.set()
    assert list(TaggingEngine(demo_model, demo_label_sets, cache=cache).run(pictures, cancel=cancel)) == []
