"""The test suite. Its processes keep their compiled bytecode even where the environment says
not to (PYTHONDONTWRITEBYTECODE, set on this project's machines): otherwise every pytest-xdist
worker rewrote and compiled every test module again (about 6 s of CPU each), and every `voc`
process a test starts compiled the bot again (0.1 s of its 0.8 s start). The processes the
tests start inherit the environment without the variable."""

import os
import sys

sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
