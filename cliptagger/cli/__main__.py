"""``python -m cliptagger.cli``."""

import sys

from cliptagger.cli.app import main

sys.exit(main())
