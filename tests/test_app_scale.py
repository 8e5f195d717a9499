"""The headline user: the app opens a folder of 20,000 photos, tags them all and quits
cleanly (the window the app shows, offscreen, with the bundled demo model)."""

from __future__ import annotations

import resource

import pytest
from PIL import Image

from cliptagger.gui.main_window import MainWindow
from cliptagger.settings import Settings
from cliptagger.user_label_sets import demo_label_sets

PHOTOS = 20_000


def tiny_library(folder, count: int) -> None:
    """``count`` distinct 24 px JPEGs in 40 folders (distinct: no two files share an embedding)."""
    for index in range(count):
        sub = folder / f"{index % 40:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        colour = (index * 37 % 256, index * 91 % 256, index * 53 % 256)
        Image.new("RGB", (24, 24), colour).save(sub / f"IMG_{index:05d}.jpg", quality=80)


@pytest.mark.slow
def test_the_app_tags_20000_photos_and_quits_cleanly(qtbot, tmp_path):
    tiny_library(tmp_path / "library", PHOTOS)
    window = MainWindow(Settings(model="demo", device="cpu"), demo_label_sets())
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.models.ready, timeout=120_000)
    window.add_paths([tmp_path / "library"])
    qtbot.waitUntil(lambda: len(window.images.paths) == PHOTOS, timeout=300_000)
    with qtbot.waitSignal(window.run_done, timeout=900_000) as finished:
        window.actions.run.trigger()
    assert finished.args == [False]  # ran to the end, not stopped
    counts = window.session.counts()
    assert (counts.photos, counts.tagged, counts.failed, counts.pending) == (PHOTOS, PHOTOS, 0, 0)
    assert window.thumbnails.memory_used <= 192 * 2**20
    window.sidecars.settle_unwritten = lambda *_args: True  # nothing accepted: nothing to ask
    assert window.close()  # closeEvent stops the workers and saves the settings
    assert not window.client.tagging_thread.isRunning() and not window.client.writer_thread.isRunning()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert peak_mib < 4096, f"peak RSS {peak_mib:.0f} MiB"
