"""The parts of ``tag --ray`` that need no Ray running: the pool plan and the Parquet shards."""

from __future__ import annotations

import numpy as np
import pytest

from cliptagger.cluster.pipeline import plan_pool
from cliptagger.cluster.shards import batch_table, merge_leftover_shards, shard_folder, write_shard
from cliptagger.core.tagging.cache import EmbeddingCache, file_stamp, path_key


@pytest.mark.parametrize("resources, actors, expected", [
    ({"CPU": 64.0, "GPU": 8.0}, None, (8, 1.0)),     # one actor per GPU
    ({"CPU": 2.0}, None, (1, 0.0)),                 # CPU actors on half the cores, at least one
    ({"CPU": 16.0}, None, (8, 0.0)),
    ({"CPU": 16.0, "GPU": 2.0}, 1, (1, 1.0)),        # --ray-actors wins
])
def test_pool_plan(resources, actors, expected):
    plan = plan_pool(resources, actors)
    assert (plan.actors, plan.gpus_per_actor) == expected


def batch_for(paths, vectors, errors):
    stamps = [file_stamp(p) for p in paths]
    return {"path": np.array([path_key(p) for p in paths], dtype=object),
            "size": np.array([s[0] for s in stamps]), "mtime_ns": np.array([s[1] for s in stamps]),
            "inode": np.array([s[2] for s in stamps]), "model_id": np.array(["m"] * len(paths), dtype=object),
            "embedding": vectors, "error": np.array(errors, dtype=object)}


def test_a_left_shard_is_merged_with_its_failures_and_removed(tmp_path):
    photos = [tmp_path / name for name in ("a.jpg", "b.jpg", "\udcff-not-utf8.jpg")]
    for photo in photos:
        photo.write_bytes(b"x")
    vectors = np.random.default_rng(1).standard_normal((3, 8)).astype(np.float32)
    cache = EmbeddingCache(tmp_path / "cache" / "embeddings.sqlite3")
    write_shard(shard_folder(cache), batch_table(batch_for(photos, vectors, ["", "truncated", ""])))

    report = merge_leftover_shards(cache, "m")
    assert report.stored == 2 and list(report.failed.values()) == ["truncated"]
    found = cache.lookup(photos, "m")
    assert set(found) == {photos[0], photos[2]}
    assert np.array_equal(found[photos[2]].numpy(), vectors[2])  # exact float32, any file name
    assert not list(shard_folder(cache).iterdir())


def test_a_shard_of_another_model_waits_and_a_damaged_one_is_set_aside(tmp_path):
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    cache = EmbeddingCache(tmp_path / "cache" / "embeddings.sqlite3")
    kept = write_shard(shard_folder(cache), batch_table(batch_for([photo], np.ones((1, 4), np.float32), [""])))
    (shard_folder(cache) / "shard-damaged.parquet").write_bytes(b"PAR1 not really")

    report = merge_leftover_shards(cache, "another model")
    assert report.stored == 0 and kept.exists()
    assert len(report.warnings) == 1 and "set aside" in report.warnings[0]
    assert not (shard_folder(cache) / "shard-damaged.parquet").exists()


def test_no_cluster_at_the_address_is_a_clear_error(monkeypatch):
    import ray

    from cliptagger.cluster import pipeline
    from cliptagger.core.errors import CliptaggerError

    def refuse(**kwargs):
        raise ConnectionError("Could not find any running Ray instance.")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", refuse)
    with pytest.raises(CliptaggerError, match="cannot start or reach Ray at 'auto'.*ray start --head"):
        pipeline.connect("auto")


def test_pixels_travel_as_uint8_and_end_as_exactly_the_engines_tensor(demo_model):
    import torch
    from PIL import Image

    from cliptagger.cluster.pipeline import split_preprocess
    from cliptagger.core.media.synthetic import all_scenes, render

    head, tail = split_preprocess(demo_model.preprocess)
    assert tail is not None  # open_clip's preprocess: the 8-bit path is the one taken
    picture = render(all_scenes()[0], size=150, seed=3)
    travelled = np.asarray(head(picture).convert("RGB"))
    assert travelled.dtype == np.uint8 and travelled.shape == (demo_model.image_size, demo_model.image_size, 3)
    assert torch.equal(tail(Image.fromarray(travelled, "RGB")), demo_model.preprocess(picture))
    assert split_preprocess(lambda image: image)[1] is None  # an unknown preprocess runs whole in the task
