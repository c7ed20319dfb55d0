"""``python -m skdistillhash``: the main job (see :mod:`skdistillhash.benchmark`)."""

import sys

from .benchmark import main

sys.exit(main())
