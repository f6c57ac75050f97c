"""`python -m tui.cli`: the same as the `triton-deck` command."""

import sys

from tui.cli import main

sys.exit(main())
