"""'Tags for': Write XMP writes where the chosen photo app reads keywords (issue 21)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from cliptagger.core.metadata.targets import target  # noqa: E402
from cliptagger.settings import Settings, load_settings  # noqa: E402
from tests.test_gui import add_and_run, closing_without_asking, open_window, undo, write  # noqa: E402
from tests.xmp_readers import exiftool_keywords  # noqa: E402


def pick(window, app_key: str) -> None:
    """As the user does: choose the app in the toolbar's Tags for list."""
    picker = window.sidecars.target_picker.app_picker
    index = picker.findData(app_key)
    assert index >= 0, app_key
    picker.setCurrentIndex(index)
    picker.activated.emit(index)


def accept_all(qtbot, window) -> None:
    window.actions.accept_all.trigger()
    qtbot.waitUntil(lambda: window.session.counts().unwritten == len(window.images.paths), timeout=60_000)


def proposed(window, path: Path) -> set[str]:
    return {k.keyword for k in window.session.proposed_keys(path)}


def test_lightroom_puts_the_keywords_inside_the_jpeg_and_says_how_to_read_them(qtbot, window, tmp_path):
    [photo] = add_and_run(qtbot, window, tmp_path / "photos", 1)
    assert photo.suffix.lower() == ".jpg"
    pick(window, "lightroom")
    assert window.sidecars.target_picker.style_picker.isHidden()  # Lightroom decides where
    accept_all(qtbot, window)
    report = write(qtbot, window)
    assert report.written == [photo] and report.photos_written == 1 and not report.failed
    inside = exiftool_keywords(photo)
    assert set(inside["XMP-lr:HierarchicalSubject"]) == proposed(window, photo) != set()
    assert not list(photo.parent.glob("*.xmp"))  # Lightroom ignores a JPEG's sidecar: none made
    message = window.statusBar().currentMessage()
    assert message.endswith(target("lightroom").hint + ".") and "keywords into 1 photo" in message
    assert window.session.counts().unwritten == 0


def test_capture_one_gets_adobe_named_sidecars(qtbot, window, tmp_path):
    [photo] = add_and_run(qtbot, window, tmp_path / "photos", 1)
    original = photo.read_bytes()
    pick(window, "captureone")
    accept_all(qtbot, window)
    report = write(qtbot, window)
    sidecar = photo.with_suffix(".xmp")
    assert report.written == [sidecar] and report.sidecars_written == 1
    assert set(exiftool_keywords(sidecar)["XMP-lr:HierarchicalSubject"]) == proposed(window, photo)
    assert not Path(str(photo) + ".xmp").exists() and photo.read_bytes() == original
    assert window.statusBar().currentMessage().endswith(target("captureone").hint + ".")


def test_the_choice_survives_a_restart(qtbot):
    first = open_window(qtbot, Settings(model="demo", device="cpu"))
    first.resize(1280, 760)  # wide enough that no toolbar choice hides behind the overflow
    assert first.sidecars.target_picker.app.key == "custom"  # the default: sidecars, as before
    assert not first.sidecars.target_picker.style_picker.isHidden()
    pick(first, "darktable")
    first.close()
    assert load_settings().target_app == "darktable"
    second = open_window(qtbot, load_settings())
    second.resize(1280, 760)
    try:
        assert second.sidecars.target_picker.app_picker.currentText() == "darktable"
        assert second.sidecars.target_picker.style_picker.isHidden()
    finally:
        closing_without_asking(second)
        second.close()


def test_without_exiftool_a_lightroom_jpeg_write_is_refused_and_nothing_written(qtbot, window, tmp_path,
                                                                              monkeypatch):
    from cliptagger.core.metadata import journal, targets

    [photo] = add_and_run(qtbot, window, tmp_path / "photos", 1)
    original = photo.read_bytes()
    monkeypatch.setattr(targets, "embedded_writer", lambda: None)
    pick(window, "lightroom")
    accept_all(qtbot, window)
    batches = len(journal.list_batches())
    report = write(qtbot, window)
    assert report.refused == [photo] and not report.written
    assert photo.name in window.statusBar().currentMessage()
    box = window.sidecars.refusal_box
    assert box is not None and photo.name in box.informativeText() and "ExifTool" in box.informativeText()
    assert photo.read_bytes() == original and not list(photo.parent.glob("*.xmp"))
    assert len(journal.list_batches()) == batches
    assert window.session.counts().unwritten == 1  # still to write
    box.close()


def test_undo_after_an_embedded_write_restores_the_jpeg_exactly(qtbot, window, tmp_path):
    from tests.test_gui import Status

    [photo] = add_and_run(qtbot, window, tmp_path / "photos", 1)
    original = photo.read_bytes()
    pick(window, "lightroom")
    accept_all(qtbot, window)
    write(qtbot, window)
    assert photo.read_bytes() != original
    report = undo(qtbot, window)  # made in this window: no "made elsewhere?" question
    assert report.restored == [photo]
    assert photo.read_bytes() == original
    assert window.images.status(photo) is Status.TAGGED and window.session.counts().unwritten == 1
    assert "1 photo restored" in window.statusBar().currentMessage()
