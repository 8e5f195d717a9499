"""``tag --ray`` on a local Ray (2 CPUs): the same embeddings, proposals and sidecars as one
machine; idempotent (a second run encodes nothing) and resumable (a run stopped halfway
leaves only the rest to encode). One Ray instance for the whole module."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
import ray

from cliptagger.cluster.pipeline import ModelSpec, connect
from cliptagger.cluster.runner import fill_cache
from cliptagger.core.media.synthetic import write_demo_folder
from cliptagger.core.metadata.sidecars import SidecarStyle
from cliptagger.core.session import EngineOptions, Session
from cliptagger.core.tagging.cache import EmbeddingCache
from cliptagger.core.tagging.engine import ImageFailure

pytestmark = pytest.mark.slow  # starts Ray and one model per encoder actor (tens of seconds)
SPEC = ModelSpec("demo", precision="fp32", device="cpu")
BROKEN = {"broken.jpg": b"\xff\xd8\xff\xe0 not really a jpeg", "empty.jpg": b"", "notes.png": b"plain text"}


@pytest.fixture(scope="module")
def local_ray():
    connect("local", num_cpus=2)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("archive")
    write_demo_folder(folder, count=8, size=96)
    for name, data in BROKEN.items():
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture()
def model():
    from cliptagger.core.model.clip import load_model
    from cliptagger.core.model.weights import request_for

    return load_model(request_for("demo"), device="cpu", precision="fp32")


def copy_of(folder: Path, to: Path) -> list[Path]:
    shutil.copytree(folder, to)
    return sorted(to.iterdir())


def session_for(model, demo_label_sets, cache_file: Path, batch_size: int = 4) -> Session:
    session = Session(demo_label_sets, EngineOptions(batch_size=batch_size), cache=EmbeddingCache(cache_file))
    session.use_model(model)
    return session


def tag_counting_encodes(session: Session, paths: list[Path]) -> tuple[list, int]:
    encoded: list[int] = []
    session.model.encode_listeners.append(encoded.append)
    try:
        outcomes = list(session.tag(paths, progress=None, cancel=threading.Event()))
    finally:
        session.model.encode_listeners.remove(encoded.append)
    return outcomes, sum(encoded)


def test_ray_run_matches_one_machine_and_a_second_run_encodes_nothing(
        local_ray, photo_folder, model, demo_label_sets, tmp_path):
    one_paths = copy_of(photo_folder, tmp_path / "one")
    ray_paths = copy_of(photo_folder, tmp_path / "ray")
    single = session_for(model, demo_label_sets, tmp_path / "one.sqlite3")
    single_outcomes, _ = tag_counting_encodes(single, one_paths)

    clustered = session_for(model, demo_label_sets, tmp_path / "ray.sqlite3")
    seen = []
    report = fill_cache(clustered, ray_paths, SPEC, progress=seen.append)
    assert report.sent == len(ray_paths) and report.encoded == 8
    assert {p.name: r for p, r in report.failed.items()} == {
        o.path.name: o.reason for o in single_outcomes if isinstance(o, ImageFailure)}
    assert seen and seen[-1].done == seen[-1].total == len(ray_paths)
    ray_outcomes, encoded_after = tag_counting_encodes(clustered, ray_paths)
    assert encoded_after == 0  # every embedding came from the cluster through the cache

    assert [o.path.name for o in ray_outcomes] == [o.path.name for o in single_outcomes]
    for mine, theirs in zip(single_outcomes, ray_outcomes):
        assert type(mine) is type(theirs)
        if isinstance(mine, ImageFailure):
            assert mine.reason == theirs.reason
            continue
        assert float(mine.embedding @ theirs.embedding) >= 0.9999, mine.path.name
        assert mine.keywords == theirs.keywords
    for session in (single, clustered):
        session.accept_above_threshold(record=False)
        assert not session.write(SidecarStyle.EXT, description="test").failed
    one_sidecars = {p.name: p.read_bytes() for p in (tmp_path / "one").glob("*.xmp")}
    ray_sidecars = {p.name: p.read_bytes() for p in (tmp_path / "ray").glob("*.xmp")}
    assert len(one_sidecars) == 8 and one_sidecars == ray_sidecars

    again = fill_cache(clustered, ray_paths, SPEC)
    assert (again.already_cached, again.sent, again.encoded) == (8, 3, 0)  # only the bad files go again


def test_a_run_stopped_halfway_finishes_only_the_rest(local_ray, photo_folder, model, demo_label_sets, tmp_path):
    paths = copy_of(photo_folder, tmp_path / "photos")
    session = session_for(model, demo_label_sets, tmp_path / "cache.sqlite3", batch_size=2)
    stop = threading.Event()

    def halfway(progress) -> None:
        if progress.done >= progress.total // 2:
            stop.set()

    first = fill_cache(session, paths, SPEC, progress=halfway, cancel=stop)
    assert first.cancelled and 0 < first.encoded < 8
    cached = session.cache().lookup(paths, session.model_id)
    assert len(cached) == first.encoded

    second = fill_cache(session, paths, SPEC)
    assert second.already_cached == first.encoded
    assert second.sent == len(paths) - first.encoded  # what was finished is never sent again
    assert first.encoded + second.encoded == 8
    _, encoded_after = tag_counting_encodes(session, paths)
    assert encoded_after == 0


def test_a_shard_left_by_a_killed_run_is_merged_not_encoded_again(
        local_ray, photo_folder, model, demo_label_sets, tmp_path, monkeypatch):
    """A run killed after a shard was written but before it was merged: the next run merges it."""
    from cliptagger.cluster import shards

    paths = copy_of(photo_folder, tmp_path / "photos")
    session = session_for(model, demo_label_sets, tmp_path / "cache.sqlite3")
    with monkeypatch.context() as patched:  # "killed" after writing each shard, before merging it
        patched.setattr("cliptagger.cluster.runner.merge_shard_file", lambda *args: None)
        first = fill_cache(session, paths, SPEC)
    assert first.encoded == 0 and session.cache().count() == 0
    assert list(shards.shard_folder(session.cache()).glob("shard-*.parquet"))

    second = fill_cache(session, paths, SPEC)
    assert second.already_cached == 8 and second.encoded == 0
    assert not list(shards.shard_folder(session.cache()).glob("shard-*.parquet"))


def test_an_encoder_worker_killed_mid_batch_loses_and_duplicates_nothing(
        local_ray, photo_folder, model, demo_label_sets, tmp_path):
    from tests.cluster import dying_encoder

    ray.cloudpickle.register_pickle_by_value(dying_encoder)  # the workers need not import tests/
    marker = tmp_path / "died"
    dying_encoder.MARKER["path"] = str(marker)
    paths = copy_of(photo_folder, tmp_path / "photos")
    session = session_for(model, demo_label_sets, tmp_path / "cache.sqlite3", batch_size=2)
    report = fill_cache(session, paths, SPEC, encoder=dying_encoder.DyingEncoder)
    assert marker.exists()  # a worker did die
    assert report.encoded == 8 and len(report.failed) == 3  # every batch came back exactly once
    assert len(session.cache().lookup(paths, session.model_id)) == 8
    _, encoded_after = tag_counting_encodes(session, paths)
    assert encoded_after == 0


def test_cli_tag_with_ray_encodes_on_the_cluster_and_tags_from_the_cache(
        local_ray, photo_folder, tmp_path, capsys):
    import json

    from cliptagger import cli

    folder = tmp_path / "photos"
    copy_of(photo_folder, folder)
    code = cli.main(["tag", str(folder), "--model", "demo", "--device", "cpu", "--precision", "fp32",
                     "--ray", "local", "--json", "--quiet", "--write-xmp"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "cluster: 8 encoded, 0 already cached, 3 unreadable (reported below) of 11 photos." in err
    rows = [json.loads(line) for line in out.splitlines()]
    assert sum(r.get("status") == "error" for r in rows) == 3 and len(rows) == 11
    assert len(list(folder.glob("*.xmp"))) == 8


def test_ray_refuses_without_a_writable_cache(model, demo_label_sets, photo_folder):
    from cliptagger.core.errors import CliptaggerError

    session = Session(demo_label_sets, EngineOptions(use_cache=False))
    session.use_model(model)
    with pytest.raises(CliptaggerError, match="fills the embedding cache"):
        fill_cache(session, sorted(photo_folder.iterdir()), SPEC)
