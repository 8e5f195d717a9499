"""An OpenAI ``.pt`` (TorchScript archive, as ``clip.load`` downloads it) loads once converted to safetensors."""

from __future__ import annotations

import warnings
import zipfile

import pytest
import torch

from cliptagger.core.errors import WeightsProblem, WeightsUnavailableError
from cliptagger.core.model import openai_convert
from cliptagger.core.model.clip import load_model
from cliptagger.core.model.weights import request_for
from cliptagger.core.storage import paths
from tests.core.model.tiny_checkpoints import save_tiny_openai_pt

TEXTS = ["a photo of a cat", "한국어 사진", "café"]


def save(path, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script/save are deprecated, still OpenAI's format
        return path, save_tiny_openai_pt(path, **kwargs)


@pytest.fixture(scope="module")
def openai_pt(tmp_path_factory):
    return save(tmp_path_factory.mktemp("openai") / "ViT-tiny.pt")


def load(path):
    return load_model(request_for("ViT-B-32", checkpoint=path), device="cpu", precision="fp32")


def test_an_openai_archive_matches_the_model_it_holds(openai_pt):
    path, reference = openai_pt
    assert openai_convert.is_torchscript_archive(path)
    clip = load(path)
    pixels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        images = torch.nn.functional.normalize(reference.encode_image(pixels), dim=-1)
        texts = torch.nn.functional.normalize(reference.encode_text(clip.tokenizer(TEXTS)), dim=-1)
    torch.testing.assert_close(clip.encode_pixels(pixels), images, atol=1e-5, rtol=0)
    torch.testing.assert_close(clip.encode_texts(TEXTS), texts, atol=1e-5, rtol=0)
    assert clip.model_id.startswith("openai-clip@sha256:") and clip.arch == "openai:ViT-tiny.pt"
    stored = list(paths.converted_dir().glob("*/model.safetensors"))
    assert len(stored) == 1 and stored[0].stat().st_size < path.stat().st_size * 1.1  # fp16 kept, not doubled


def test_a_resnet_archive_loads_too(tmp_path):
    path, reference = save(tmp_path / "RN-tiny.pt", resnet=True)
    clip = load(path)
    pixels = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        images = torch.nn.functional.normalize(reference.encode_image(pixels), dim=-1)
    torch.testing.assert_close(clip.encode_pixels(pixels), images, atol=1e-5, rtol=0)
    assert clip.image_size == 64 and type(clip.model.visual).__name__ == "ModifiedResNet"


@pytest.mark.parametrize("resnet", [False, True])
def test_it_agrees_with_open_clips_own_reader_of_such_archives(openai_pt, tmp_path, resnet):
    """open_clip's load_openai_model reads the same archive into the same model."""
    from open_clip.openai import load_openai_model

    path, _ = save(tmp_path / "RN-tiny.pt", resnet=True) if resnet else openai_pt
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        theirs = load_openai_model(str(path), precision="fp32", device="cpu").eval()
    ours = load(path)
    pixels = torch.rand(2, 3, ours.image_size, ours.image_size)
    with torch.no_grad():
        expected = torch.nn.functional.normalize(theirs.encode_image(pixels), dim=-1)
    torch.testing.assert_close(ours.encode_pixels(pixels), expected, atol=1e-5, rtol=0)


def test_the_archive_is_converted_once(openai_pt, monkeypatch):
    path, _ = openai_pt
    conversions = []
    convert = openai_convert.convert_file
    monkeypatch.setattr(openai_convert, "convert_file", lambda p: conversions.append(p) or convert(p))
    loads = []
    read = openai_convert.read_archive
    monkeypatch.setattr(openai_convert, "read_archive", lambda p: loads.append(p) or read(p))
    assert load(path).model_id == load(path).model_id
    assert len(conversions) == 1 and len(loads) == 1  # the second load never opens the TorchScript file


def test_a_torchscript_file_that_is_not_clip_gets_one_clear_message(tmp_path):
    path = tmp_path / "other.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.script(torch.nn.Linear(3, 2)), str(path))
    with pytest.raises(WeightsUnavailableError) as caught:
        load(path)
    assert caught.value.problem is WeightsProblem.UNSUPPORTED
    assert str(caught.value).startswith(f"{path} cannot be used as a CLIP model: it is a TorchScript file but not "
                                        "an OpenAI CLIP (no tensor")


def test_plain_zips_and_torch_save_files_are_not_taken_for_torchscript(tmp_path):
    saved = tmp_path / "state.pt"
    torch.save({"weight": torch.zeros(2)}, saved)
    plain = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("x/constants.pkl", b"")
    assert not openai_convert.is_torchscript_archive(saved)
    assert not openai_convert.is_torchscript_archive(plain)
    assert not openai_convert.is_torchscript_archive(tmp_path / "missing.pt")
