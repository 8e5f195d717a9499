"""Issue 9 (cache, exit codes, odd inputs): the cache degrades and never destroys; clear errors."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch
from PIL import Image

from cliptagger import cli
from cliptagger.core.errors import ImageDecodeError, LabelSetError
from cliptagger.core.media.images import load_rgb
from cliptagger.core.media.synthetic import Scene
from cliptagger.core.tagging import engine as engine_module
from cliptagger.core.tagging.cache import EmbeddingCache
from cliptagger.core.tagging.engine import ImageFailure, ImageResult, TaggingEngine
from cliptagger.core.tagging.labels import parse_label_sets
from tests import helpers


def pictures(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    shapes = ["circle", "star", "triangle", "square"]
    return [helpers.photo(folder / f"p{i}.jpg", Scene(shapes[i % 4], "red", "white"), size=96, seed=i)
            for i in range(count)]


# ------------------------------------------------------------------ defect 8: the embedding cache


def test_photo_replaced_during_the_run_is_not_cached_with_the_old_embedding(
        tmp_path, demo_model, demo_label_sets, monkeypatch):
    photos = pictures(tmp_path / "photos", 3)
    victim = photos[1]
    replacement = helpers.photo(tmp_path / "other.jpg", Scene("star", "blue", "black"), size=120, seed=9)
    real_load = engine_module.load_rgb

    def load_then_replace(path, **kwargs):
        picture = real_load(path, **kwargs)
        if Path(path) == victim and replacement.exists():
            os.replace(replacement, victim)  # the user saves an edited version right now
        return picture

    cache = EmbeddingCache(tmp_path / "c.sqlite3")
    monkeypatch.setattr(engine_module, "load_rgb", load_then_replace)
    list(TaggingEngine(demo_model, demo_label_sets, cache=cache).run(photos))
    monkeypatch.setattr(engine_module, "load_rgb", real_load)
    cached = cache.lookup(photos, demo_model.model_id)
    assert {photos[0], photos[2]} <= set(cached)
    fresh = list(TaggingEngine(demo_model, demo_label_sets, cache=None).run([victim]))[0]
    # the replaced photo is either not cached, or cached with the embedding of what is there now
    if victim in cached:
        assert torch.allclose(cached[victim], fresh.embedding, atol=1e-5), "old picture cached as the new file"
    again = list(TaggingEngine(demo_model, demo_label_sets, cache=cache).run([victim]))[0]
    assert torch.allclose(again.embedding, fresh.embedding, atol=1e-5)


def test_non_utf8_file_name_is_cached_losslessly(tmp_path, demo_model, demo_label_sets):
    folder = tmp_path / "photos"
    folder.mkdir()
    odd = folder / os.fsdecode(b"Stra\xdfe-\xff.jpg")  # Latin-1 bytes, not UTF-8
    helpers.photo(odd)
    cache = EmbeddingCache(tmp_path / "c.sqlite3")
    first = list(TaggingEngine(demo_model, demo_label_sets, cache=cache).run([odd]))
    assert isinstance(first[0], ImageResult)
    assert cache.lookup([odd], demo_model.model_id).keys() == {odd}
    assert cache.prune() == 0 and cache.count() == 1  # the stored name finds the file again


def test_read_only_cache_file_is_used_read_only_not_set_aside(tmp_path, demo_model, demo_label_sets):
    photos = pictures(tmp_path / "photos", 2)
    location = tmp_path / "cache" / "c.sqlite3"
    location.parent.mkdir()
    writer = EmbeddingCache(location)
    list(TaggingEngine(demo_model, demo_label_sets, cache=writer).run(photos[:1]))
    writer.close()
    location.chmod(0o444)
    reader = EmbeddingCache(location)
    assert not list(location.parent.glob("*.corrupt-*"))
    assert reader.warnings and "read-only" in reader.warnings[0] and "set aside" not in reader.warnings[0]
    assert reader.lookup(photos, demo_model.model_id).keys() == {photos[0]}
    results = list(TaggingEngine(demo_model, demo_label_sets, cache=reader).run(photos))
    assert all(isinstance(r, ImageResult) for r in results)
    assert reader.count() == 1 and len(reader.warnings) == 1


def test_read_only_cache_folder_tags_and_writes_sidecars(tmp_path, monkeypatch, capsys):
    photos = pictures(tmp_path / "photos", 2)
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    cache_dir.chmod(0o555)
    monkeypatch.setenv("CLIPTAGGER_CACHE_DIR", str(cache_dir))
    try:
        code = cli.main(["tag", str(photos[0].parent), "--model", "demo", "--device", "cpu", "--quiet",
                         "--write-xmp"])
    finally:
        cache_dir.chmod(0o755)
    err = capsys.readouterr().err
    assert code == 0, err
    assert "embedding cache" in err and "off for this run" in err
    assert all((p.parent / f"{p.name}.xmp").exists() for p in photos)


@pytest.fixture
def full_disk(tmp_path):
    folder = tmp_path / "disk"
    folder.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a small tmpfs (a real full disk)")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def test_cache_on_a_full_disk_turns_off_with_one_warning_and_the_run_goes_on(full_disk, tmp_path, capsys,
                                                                            monkeypatch):
    photos = pictures(tmp_path / "photos", 24)
    monkeypatch.setenv("CLIPTAGGER_CACHE_DIR", str(full_disk))
    real_store = EmbeddingCache.store

    def disk_fills_up_mid_run(self, *args, **kwargs):
        stats = os.statvfs(full_disk)
        with open(full_disk / "filler.bin", "ab") as handle:
            try:
                handle.write(b"\0" * stats.f_bavail * stats.f_frsize)
            except OSError:
                pass
        return real_store(self, *args, **kwargs)

    monkeypatch.setattr(EmbeddingCache, "store", disk_fills_up_mid_run)
    code = cli.main(["tag", str(photos[0].parent), "--model", "demo", "--device", "cpu", "--quiet",
                     "--write-xmp", "--batch-size", "4"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert err.count("cannot store embeddings") == 1
    assert all((p.parent / f"{p.name}.xmp").exists() for p in photos)


# ------------------------------------------------------------------ exit code 3


def test_exit_code_3_when_a_sidecar_write_failed(tmp_path, capsys):
    photos = pictures(tmp_path / "photos", 2)
    locked = photos[0].parent / f"{photos[0].name}.xmp"
    locked.write_bytes((Path(__file__).parent / "data" / "xmp" / "lightroom.xmp").read_bytes())
    locked.chmod(0o444)
    code = cli.main(["tag", str(photos[0].parent), "--model", "demo", "--device", "cpu", "--quiet", "--write-xmp"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_SIDECARS_FAILED == 3, err
    assert "sidecar not written" in err and "read-only" in err
    assert (photos[1].parent / f"{photos[1].name}.xmp").exists()  # the other one was written


# ------------------------------------------------------------------ extreme aspect ratios


def test_60000x1_png_is_refused_from_the_header(tmp_path, demo_model, demo_label_sets, monkeypatch):
    strip = tmp_path / "strip.png"
    Image.new("RGB", (60000, 1), "red").save(strip)
    with pytest.raises(ImageDecodeError, match="aspect ratio"):
        load_rgb(strip)
    calls = []
    monkeypatch.setattr(Image.Image, "load", lambda self: calls.append(self.size))
    with pytest.raises(ImageDecodeError, match="aspect ratio"):
        load_rgb(strip)
    assert calls == []  # refused before a single pixel is decoded
    monkeypatch.undo()
    outcome = list(TaggingEngine(demo_model, demo_label_sets).run([strip]))[0]
    assert isinstance(outcome, ImageFailure) and "aspect ratio" in outcome.reason


def test_wide_panorama_still_works(tmp_path):
    panorama = tmp_path / "pano.jpg"
    Image.new("RGB", (4000, 500), "blue").save(panorama)  # 8:1
    assert load_rgb(panorama).size == (4000, 500)


# ------------------------------------------------------------------ label files


def test_deeply_nested_label_file_is_a_clear_error():
    with pytest.raises(LabelSetError, match="nested"):
        parse_label_sets("[" * 100_000 + "]" * 100_000)


@pytest.mark.parametrize("label", [{"name": None}, {"name": 7}, {"name": "dog", "parent": None}])
def test_null_or_non_text_label_name_is_an_error_not_a_label(label):
    text = json.dumps({"name": "Things", "labels": ["cat", label], "mode": "independent"})
    with pytest.raises(LabelSetError, match="must be text"):
        parse_label_sets(text)


def test_null_set_name_is_an_error():
    with pytest.raises(LabelSetError, match="must be text"):
        parse_label_sets(json.dumps({"name": None, "labels": ["a", "b"]}))


def test_template_without_placeholder_is_refused():
    text = json.dumps({"name": "Things", "labels": ["cat", "dog"], "templates": ["a photo."]})
    with pytest.raises(LabelSetError, match=r"without \{\}"):
        parse_label_sets(text)


def test_label_over_the_models_context_is_refused(demo_model):
    context = demo_model.tokenizer.context_length
    long_name = " ".join(["very"] * (context + 5)) + " long dog"
    text = json.dumps({"name": "Things", "labels": ["cat", long_name + " A", long_name + " B"]})
    sets = parse_label_sets(text)  # the file itself is fine: the limit belongs to the model
    with pytest.raises(LabelSetError, match=f"at most {context}"):
        TaggingEngine(demo_model, sets)


def test_cli_reports_a_bad_label_file_without_traceback(tmp_path, capsys):
    labels = tmp_path / "bad.json"
    labels.write_text(json.dumps({"name": "X", "labels": [{"name": None}, "b"]}))
    photo = helpers.photo(tmp_path / "a.jpg")
    code = cli.main(["tag", str(photo), "--labels", str(labels), "--model", "demo", "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "must be text" in err and "Traceback" not in err



