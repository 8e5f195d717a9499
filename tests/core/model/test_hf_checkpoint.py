"""A Hugging Face CLIPModel folder gives the embeddings transformers gives, through cliptagger's loader."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from cliptagger.core.errors import WeightsProblem, WeightsUnavailableError
from cliptagger.core.model import hf_convert
from cliptagger.core.model.clip import load_model
from cliptagger.core.model.weights import request_for
from cliptagger.core.storage import paths
from tests.core.model.tiny_checkpoints import MEAN, STD, hf_tokenizer, save_tiny_hf_clip

pytest.importorskip("transformers")

TEXTS = ["a photo of a cat", "dog", "a red car parked next to a tree in the snow"]


@pytest.fixture(scope="module")
def hf_folders(tmp_path_factory):
    """(folder, transformers model) per activation, built once for the module."""
    base = tmp_path_factory.mktemp("hf")
    return {act: (base / act, save_tiny_hf_clip(base / act, hidden_act=act, seed=i))
            for i, act in enumerate(("quick_gelu", "gelu"))}


def load(path):
    return load_model(request_for("ViT-B-32", checkpoint=path), device="cpu", precision="fp32")


def reference_texts(model, folder, texts):
    ids = hf_tokenizer(folder)(texts, padding="max_length", max_length=77, truncation=True, return_tensors="pt")
    with torch.no_grad():
        return torch.nn.functional.normalize(pooled(model.get_text_features(input_ids=ids["input_ids"])), dim=-1)


def reference_images(model, pixels):
    with torch.no_grad():
        return torch.nn.functional.normalize(pooled(model.get_image_features(pixel_values=pixels)), dim=-1)


def pooled(output):
    """transformers 5 returns the projected features as ``pooler_output``; 4.x returned the tensor."""
    return getattr(output, "pooler_output", output)


def copy_folder(source, target):
    shutil.copytree(source, target)
    return target


@pytest.mark.parametrize("act", ["quick_gelu", "gelu"])
def test_embeddings_match_transformers(hf_folders, act):
    folder, reference = hf_folders[act]
    clip = load(folder)
    assert clip.model.transformer.resblocks[0].mlp.gelu.__class__.__name__ == (
        "QuickGELU" if act == "quick_gelu" else "GELU")
    pixels = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(clip.encode_pixels(pixels), reference_images(reference, pixels), atol=1e-5, rtol=0)
    torch.testing.assert_close(clip.encode_texts(TEXTS), reference_texts(reference, folder, TEXTS), atol=1e-5, rtol=0)
    # the trimmed-context fast path is the one in use, and agrees with open_clip's full encode_text
    assert clip.model.text_pool_type == "argmax"
    tokens = clip.tokenizer(TEXTS)
    with torch.no_grad():
        torch.testing.assert_close(clip._encode_tokens(tokens), clip.model.encode_text(tokens), atol=1e-5, rtol=0)
    assert clip.model.visual.preprocess_cfg["mean"] == MEAN and clip.model.visual.preprocess_cfg["std"] == STD
    assert clip.image_size == 32 and clip.precision == "fp32" and clip.model_id.startswith("hf-clip@sha256:")


def test_mlp_widths_survive_open_clips_int_of_width_times_ratio():
    pairs = [(width, inner) for width in range(8, 2049, 8) for inner in range(width, 6 * width + 1, 8)]
    assert any(int(w * (i / w)) != i for w, i in pairs)  # the plain ratio does lose some
    assert all(int(w * hf_convert.mlp_ratio(i, w)) == i for w, i in pairs)


def test_a_file_picked_inside_the_folder_stands_for_the_folder(hf_folders):
    folder, _ = hf_folders["quick_gelu"]
    assert load(folder / "config.json").model_id == load(folder / "model.safetensors").model_id == load(folder).model_id


def test_pytorch_model_bin_and_shards_read_like_safetensors(hf_folders, tmp_path):
    from safetensors.torch import load_file, save_file

    folder, reference = hf_folders["gelu"]
    state = load_file(str(folder / "model.safetensors"))
    as_bin = copy_folder(folder, tmp_path / "bin")
    (as_bin / "model.safetensors").unlink()
    torch.save(state, as_bin / "pytorch_model.bin")
    sharded = copy_folder(folder, tmp_path / "sharded")
    (sharded / "model.safetensors").unlink()
    names = sorted(state)
    halves = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    for shard, keys in halves.items():
        save_file({k: state[k] for k in keys}, str(sharded / shard))
    index = {"weight_map": {k: shard for shard, keys in halves.items() for k in keys}}
    (sharded / "model.safetensors.index.json").write_text(json.dumps(index))
    pixels = torch.rand(2, 3, 32, 32)
    for variant in (as_bin, sharded):
        torch.testing.assert_close(load(variant).encode_pixels(pixels), reference_images(reference, pixels),
                                   atol=1e-5, rtol=0)


def test_the_conversion_is_cached_and_redone_when_the_source_changes(hf_folders, tmp_path, monkeypatch):
    folder = copy_folder(hf_folders["quick_gelu"][0], tmp_path / "model")
    conversions = []
    convert = hf_convert.convert_folder
    monkeypatch.setattr(hf_convert, "convert_folder", lambda f: conversions.append(f) or convert(f))
    first = load(folder)
    second = load(folder)
    assert len(conversions) == 1 and first.model_id == second.model_id
    entries = list(paths.converted_dir().iterdir())
    assert len(entries) == 1 and (entries[0] / "model.safetensors").is_file()

    # new weights (a fine-tune saved over the old one): converted again, the old entry goes
    save_tiny_hf_clip(tmp_path / "other", seed=99, with_tokenizer=False)
    shutil.copy(tmp_path / "other" / "model.safetensors", folder / "model.safetensors")
    third = load(folder)
    assert len(conversions) == 2 and third.model_id != first.model_id
    assert not torch.equal(third.encode_texts(TEXTS), first.encode_texts(TEXTS))
    assert [e.name for e in paths.converted_dir().iterdir()] != [entries[0].name]
    assert len(list(paths.converted_dir().iterdir())) == 1

    # a changed small file (preprocessing) changes the fingerprint too
    config = json.loads((folder / "preprocessor_config.json").read_text())
    config["image_mean"] = [0.1, 0.1, 0.1]
    (folder / "preprocessor_config.json").write_text(json.dumps(config))
    assert load(folder).model.visual.preprocess_cfg["mean"] == [0.1, 0.1, 0.1] and len(conversions) == 3


def test_a_damaged_cache_entry_is_converted_again(hf_folders, tmp_path, monkeypatch):
    folder = hf_folders["quick_gelu"][0]
    first = load(folder)
    entry = next(paths.converted_dir().iterdir())
    (entry / "conversion.json").write_text("{not json")
    conversions = []
    convert = hf_convert.convert_folder
    monkeypatch.setattr(hf_convert, "convert_folder", lambda f: conversions.append(f) or convert(f))
    assert load(folder).model_id == first.model_id and len(conversions) == 1


def test_damaged_converted_weights_are_converted_again(hf_folders):
    folder, reference = hf_folders["gelu"]
    load(folder)
    entry = next(paths.converted_dir().iterdir())
    (entry / "model.safetensors").write_bytes(b"\0" * 100)
    pixels = torch.rand(1, 3, 32, 32)
    torch.testing.assert_close(load(folder).encode_pixels(pixels), reference_images(reference, pixels), atol=1e-5, rtol=0)


def test_a_full_disk_while_storing_is_a_message_and_leaves_nothing_behind(hf_folders, monkeypatch):
    import errno

    import safetensors.torch

    from cliptagger.core.errors import ModelLoadError

    def full_disk(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", full_disk)
    with pytest.raises(ModelLoadError, match="Could not store the converted weights .* No space left on device"):
        load(hf_folders["gelu"][0])
    assert list(paths.converted_dir().iterdir()) == []


def _config(folder, **changes):
    config = json.loads((folder / "config.json").read_text())
    for key, value in changes.items():
        if "." in key:
            tower, field = key.split(".")
            config[tower][field] = value
        else:
            config[key] = value
    (folder / "config.json").write_text(json.dumps(config))


def _drop_tensors(folder, prefix):
    from safetensors.torch import load_file, save_file

    state = load_file(str(folder / "model.safetensors"))
    save_file({k: v for k, v in state.items() if not k.startswith(prefix)}, str(folder / "model.safetensors"))


def _extra_tensor(folder):
    from safetensors.torch import load_file, save_file

    state = load_file(str(folder / "model.safetensors"))
    state["vision_model.head.attention.in_proj_weight"] = torch.zeros(3)
    save_file(state, str(folder / "model.safetensors"))


def _foreign_vocab(folder):
    vocab = json.loads((folder / "vocab.json").read_text())
    vocab["a</w>"], vocab["b</w>"] = vocab["b</w>"], vocab["a</w>"]
    (folder / "vocab.json").write_text(json.dumps(vocab))


NOT_USABLE = {
    "no config": (lambda f: (f / "config.json").unlink(), "it has no config.json"),
    "siglip": (lambda f: _config(f, model_type="siglip"), "it is a SigLIP model"),
    "vision only": (lambda f: _config(f, model_type="clip_vision_model"), "it holds only CLIP's image tower"),
    "other model": (lambda f: _config(f, model_type="bert"), "model_type 'bert', not 'clip'"),
    "no weights": (lambda f: (f / "model.safetensors").unlink(), "no model.safetensors or pytorch_model.bin"),
    "no text tower": (lambda f: _drop_tensors(f, "text_model."), "its text tower is incomplete"),
    "extra tensors": (_extra_tensor, "an unsupported variant"),
    "mixed activations": (lambda f: _config(f, **{"vision_config.hidden_act": "gelu"}), "one of 'quick_gelu' or 'gelu'"),
    "gelu_new": (lambda f: _config(f, **{"text_config.hidden_act": "gelu_new", "vision_config.hidden_act": "gelu_new"}),
                 "'gelu_new' (text)"),
    "other vocabulary": (_foreign_vocab, "not CLIP's standard BPE vocabulary"),
    "damaged weights": (lambda f: (f / "model.safetensors").write_bytes(b"\0" * 64), "model.safetensors cannot be read"),
}


@pytest.mark.parametrize("case", sorted(NOT_USABLE))
def test_a_folder_that_is_not_a_usable_clip_gets_one_clear_message(hf_folders, tmp_path, case):
    damage, reason = NOT_USABLE[case]
    folder = copy_folder(hf_folders["quick_gelu"][0], tmp_path / "model")
    damage(folder)
    with pytest.raises(WeightsUnavailableError) as caught:
        load(folder)
    message = str(caught.value)
    assert caught.value.problem is WeightsProblem.UNSUPPORTED
    assert message.startswith(f"{folder} cannot be used as a CLIP model: ") and reason in message, message
    assert "Traceback" not in message and message.count("cannot be used") == 1
    assert not paths.converted_dir().exists() or not any(paths.converted_dir().iterdir())  # nothing half-converted


def test_the_runtime_conversion_works_without_transformers(hf_folders):
    """transformers is a test-only dependency: a fresh process where it cannot be imported converts too."""
    folder, _ = hf_folders["gelu"]
    script = ("import sys\nsys.modules['transformers'] = None  # `import transformers` raises ImportError\n"
              "from cliptagger.core.model.clip import load_model\n"
              "from cliptagger.core.model.weights import request_for\n"
              f"clip = load_model(request_for('x', checkpoint={str(folder)!r}), device='cpu', precision='fp32')\n"
              "print(tuple(clip.encode_texts(['dog']).shape), sys.modules['transformers'])\n")
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["(1,", "16)", "None"], done.stdout


def test_preprocessing_matches_clip_image_processor_up_to_the_crop_rounding(hf_folders):
    """Same resize, mean and std as transformers' CLIPImageProcessor (to one grey level).

    Known difference: when the resized long side minus the crop is odd, open_clip's
    (torchvision's) centre crop rounds the offset up and CLIPImageProcessor rounds it down:
    the crop is one pixel further along. Here 640x427 -> 47x32 -> crop 32: offset 8 vs 7.
    """
    from PIL import Image
    from skimage import data
    from transformers import CLIPImageProcessor

    folder, _ = hf_folders["quick_gelu"]
    clip = load(folder)
    processor = CLIPImageProcessor.from_pretrained(str(folder), local_files_only=True)
    grey_level = 1 / 255 / min(STD) + 1e-6

    def both(picture):
        image = Image.fromarray(picture)
        return clip.preprocess(image), processor(images=image, return_tensors="pt")["pixel_values"][0]

    for picture in (data.astronaut(), data.coffee()):  # 512x512 and 600x400: even offsets
        ours, theirs = both(picture)
        torch.testing.assert_close(ours, theirs, atol=grey_level, rtol=0)
    ours, theirs = both(data.rocket())  # 640x427: odd offset
    assert (ours - theirs).abs().max() > 0.5
    torch.testing.assert_close(ours[..., :-1], theirs[..., 1:], atol=grey_level, rtol=0)


def test_the_precision_probe_and_reduced_precision_work_on_a_converted_model(hf_folders, monkeypatch):
    monkeypatch.delenv("CLIPTAGGER_PRECISION", raising=False)  # the probe itself, not a forced suite's choice
    folder, _ = hf_folders["quick_gelu"]
    request = request_for("ViT-B-32", checkpoint=folder)
    measured = load_model(request, device="cpu", precision="auto")
    assert measured.precision_choice.source == "measured"
    assert set(measured.precision_choice.rates) == {"fp32", "bf16"}
    exact, reduced = load(folder), load_model(request, device="cpu", precision="bf16")
    assert reduced.precision == "bf16" and reduced.input_dtype == torch.bfloat16
    similarity = (exact.encode_texts(TEXTS) * reduced.encode_texts(TEXTS)).sum(dim=-1)
    assert similarity.min() > 0.98, similarity
