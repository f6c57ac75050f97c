"""Startup benchmark: process start → first frame of triton-deck, against a bare Textual app.

Both are measured in the same run, interleaved, as whole processes (interpreter start and
imports included, which is what a user waits for; bytecode cached, as once installed). Prints the medians and the ratio;
the target is a ratio of at most 1.3. It asserts nothing: timings are reported, not tested.

The deck's first frame is its chrome (context bar, tabs, footer); its first panel is mounted
right after it. The time to that panel is printed too, so what the first frame leaves out is
in plain sight.

    python3 -m uv run python bench/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROBE = Path(__file__).with_name("startup_probe.py")
TARGET_RATIO = 1.3


def one_start(kind: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, str(PROBE), kind], check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "XDG_CONFIG_HOME": scratch, "XDG_DATA_HOME": scratch, "XDG_CACHE_HOME": scratch}
        # Bytecode cached, as on an installed system (pip compiles at install): where the
        # environment forbids writing it (PYTHONDONTWRITEBYTECODE), every start would compile
        # every module again, which no user waits for. The cache goes to the scratch directory.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(scratch) / "pycache")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROBE.parent.parent), env.get("PYTHONPATH")]))
        times: dict[str, list[float]] = {"bare": [], "deck": [], "panel": []}
        for kind in times:  # warm the OS file cache for each before measuring
            one_start(kind, env)
        for _ in range(args.runs):
            for kind in times:
                times[kind].append(one_start(kind, env))
    bare, deck, panel = (statistics.median(times[kind]) for kind in ("bare", "deck", "panel"))
    ratio = deck / bare
    print(f"bare Textual app          : {bare * 1000:7.1f} ms (median of {args.runs})")
    print(f"triton-deck, first frame  : {deck * 1000:7.1f} ms (median of {args.runs})")
    print(f"triton-deck, first panel  : {panel * 1000:7.1f} ms (median of {args.runs}; {panel / bare:.2f}x, not the target)")
    verdict = "within" if ratio <= TARGET_RATIO else "OVER"
    print(f"ratio (first frame)       : {ratio:.2f}x  ({verdict} the {TARGET_RATIO}x target)")


if __name__ == "__main__":
    main()
