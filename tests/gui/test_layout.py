"""A window saved larger than the screen it opens on (another monitor, another scale factor)
opens on that screen, its buttons in reach (issue 19, item 9)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from cliptagger.gui.main_window import MainWindow  # noqa: E402
from cliptagger.settings import Settings  # noqa: E402
from cliptagger.user_label_sets import demo_label_sets  # noqa: E402
from tests.gui_helpers import closing_without_asking  # noqa: E402


def fits(window) -> bool:
    screen, frame = window.screen().availableGeometry(), window.frameGeometry()
    return screen.contains(frame.topLeft()) and screen.contains(frame.bottomRight())


def test_the_first_window_fits_a_screen_smaller_than_its_default_size(qtbot):
    """At QT_SCALE_FACTOR=2 a 1920x1080 screen is 960x540: the default 1280x820 did not fit."""
    window = MainWindow(Settings(model="demo", device="cpu"), demo_label_sets())
    qtbot.addWidget(window, before_close_func=closing_without_asking)
    assert window.screen().availableGeometry().width() < 1280  # the offscreen screen: smaller
    assert fits(window), (window.frameGeometry(), window.screen().availableGeometry())
    window.client.shutdown()


def test_a_window_saved_larger_than_the_screen_is_fitted_to_it(qtbot):
    settings = Settings(model="demo", device="cpu")
    big = MainWindow(settings, demo_label_sets())
    qtbot.addWidget(big, before_close_func=closing_without_asking)
    screen = big.screen().availableGeometry()
    big.setGeometry(screen.left() + 300, screen.top() + 200, screen.width() * 2, screen.height() * 2)
    settings.remember_layout(big.saveGeometry(), big.saveState(), big.splitter.saveState())
    assert big.width() > screen.width()
    big.client.shutdown()

    again = MainWindow(settings, demo_label_sets())
    qtbot.addWidget(again, before_close_func=closing_without_asking)
    frame = again.frameGeometry()
    assert frame.width() <= screen.width() and frame.height() <= screen.height()
    assert screen.contains(frame.topLeft()) and screen.contains(frame.bottomRight())
    again.client.shutdown()


def test_the_same_file_name_in_two_folders_reads_differently_in_the_list(qtbot, window, tmp_path):
    """Eight IMG_0001.jpg from eight folders looked identical: the row names its folder."""
    from cliptagger.core.media.synthetic import write_demo_folder

    for folder in ("2023 Iceland", "2024 Rome"):
        [(photo, _)] = write_demo_folder(tmp_path / folder, count=1, seed=4, size=64)
        photo.rename(photo.with_name("IMG_0001.jpg"))
    window.add_paths([tmp_path])
    qtbot.waitUntil(lambda: len(window.images.paths) == 2, timeout=60_000)
    shown = [window.sorted.index(row, 0).data() for row in range(2)]
    assert len(set(shown)) == 2 and all(text.startswith("IMG_0001.jpg") for text in shown)
    assert {text.splitlines()[1] for text in shown} == {"2023 Iceland", "2024 Rome"}


def test_at_1024_wide_no_toolbar_choice_hides_behind_the_overflow(qtbot, window):
    """The Sidecars choice hid behind "»" at 1280 px: the choices get a row of their own instead."""
    from PySide6.QtWidgets import QToolBar

    [main, choices] = [window.findChild(QToolBar, name) for name in ("main-toolbar", "choices-toolbar")]
    for width in (1024, 1280, 1900):
        window.resize(width, 700)
        qtbot.waitUntil(lambda w=width: window.width() == w or window.width() < w, timeout=5000)
        for toolbar in (main, choices):
            assert toolbar.sizeHint().width() <= toolbar.width(), (width, toolbar.objectName())
        two_rows = main.sizeHint().width() + choices.sizeHint().width() > window.width()
        assert window.toolBarBreak(choices) is two_rows
