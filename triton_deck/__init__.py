"""The distribution's one top-level name: what `pip install triton-deck` puts in site-packages.

In the repository the project's packages sit at the top (`services/`, `tui/`, `widgets/`,
as the product card lays them out) and `demo/` beside them. The wheel maps all four inside
this package (pyproject's `force-include`), so no generic name like `services` lands in
site-packages. `main` then puts this directory first on `sys.path` for the tool's own
process, and a local job's supervisor finds the packages the same way (its PYTHONPATH is
the directory holding `services`). From a checkout nothing needs mapping.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
INSTALLED = (HERE / "services").is_dir()  # a wheel's layout; a checkout has them beside this package


def main() -> int:
    if INSTALLED and str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    from tui.cli import main as cli_main

    return cli_main()
