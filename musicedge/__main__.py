"""``python -m musicedge`` is the ``musicedge`` command."""

import sys

from .cli import main

sys.exit(main())
