"""``python -m benchmarks`` is ``musicedge bench``."""

import sys

from musicedge.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
