"""Starts the cliptagger desktop app (also PyInstaller's entry point).

``--self-test`` runs the headless check of a build instead of opening a window.
On Windows, torch must be imported before PySide6 (their DLLs clash the other way round);
a PyInstaller splash screen covers that wait. Elsewhere torch stays off the start-up path:
the model loads in the background after the window is shown.
"""

import sys


def _main() -> int:
    import multiprocessing

    multiprocessing.freeze_support()  # model downloads run in a child process (cancellable)
    if "--self-test" in sys.argv[1:]:
        from cliptagger.selftest import run_self_test

        return run_self_test()
    if sys.platform == "win32":
        import torch  # noqa: F401  (before PySide6: DLL load order)
    from cliptagger.gui.app import main

    return main()


if __name__ == "__main__":
    sys.exit(_main())
