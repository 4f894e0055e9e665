"""``python -m depthbench.train ARGS`` ≡ ``depthbench train ARGS`` (also under torchrun)."""

import sys

from depthbench.cli import main

sys.exit(main(["train", *sys.argv[1:]]))
