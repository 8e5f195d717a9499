"""Starting the desktop app: ``python main.py [FOLDER...]`` or the ``cliptagger-gui`` script."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from cliptagger import __version__


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cliptagger", description="cliptagger desktop app")
    parser.add_argument("paths", nargs="*", type=Path, help="folders or photos to open")
    parser.add_argument("--model", help="model to use (overrides the remembered one)")
    parser.add_argument("--version", action="version", version=f"cliptagger {__version__}")
    parser.add_argument("--quit-after-show", action="store_true",
                        help="print 'window shown' once the window is on screen, then quit (start-up timing)")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_arguments(list(sys.argv[1:] if argv is None else argv))
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from cliptagger.core.storage import paths
    from cliptagger.gui.main_window import MainWindow
    from cliptagger.settings import load_settings, take_state_notices
    from cliptagger.user_label_sets import load_user_label_sets

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("cliptagger")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("cliptagger")
    icon = paths.resources_dir() / "icons" / "cliptagger.png"
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    settings = load_settings()
    if args.model:
        settings.model = args.model
    from cliptagger.user_label_sets import label_family

    window = MainWindow(settings, load_user_label_sets(label_family(settings.model)))
    window.show()
    _close_splash()
    window.show_notices(take_state_notices())
    if args.paths:
        window.add_paths(args.paths)
    if args.quit_after_show:
        from PySide6.QtCore import QTimer

        def shown() -> None:
            print("window shown", flush=True)
            window.close()

        QTimer.singleShot(0, shown)
    return app.exec()


def _close_splash() -> None:
    """Close PyInstaller's splash screen (Windows builds) once the window is up."""
    if "_PYI_SPLASH_IPC" not in os.environ:  # no splash in this build (or not frozen)
        return
    try:
        import pyi_splash  # type: ignore[import-not-found]

        pyi_splash.close()
    except Exception:
        pass


if __name__ == "__main__":
    sys.exit(main())
