"""Starts the cliptagger desktop app (also PyInstaller's entry point)."""

import sys

from cliptagger.gui.app import main

if __name__ == "__main__":
    sys.exit(main())
