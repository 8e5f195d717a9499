"""The settings keys of embedded writing: defaults, and bad values in the file ignored."""

from __future__ import annotations

import json

from cliptagger.settings import Settings, load_settings, save_settings, settings_path


def test_defaults_write_sidecars_and_keep_photo_times():
    settings = Settings()
    assert (settings.xmp_target, settings.preserve_photo_mtime, settings.embed_heif) == ("sidecar", True, False)


def test_saved_values_come_back_and_unknown_targets_fall_back():
    save_settings(Settings(xmp_target="both", preserve_photo_mtime=False, embed_heif=True))
    loaded = load_settings()
    assert (loaded.xmp_target, loaded.preserve_photo_mtime, loaded.embed_heif) == ("both", False, True)
    settings_path().write_text(json.dumps({"xmp_target": "everywhere", "preserve_photo_mtime": "no"}))
    loaded = load_settings()
    assert loaded.xmp_target == "sidecar" and loaded.preserve_photo_mtime is True
