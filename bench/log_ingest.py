"""Log ingest benchmark: lines/s and peak RSS growth of the logs view model on 5 million lines.

The stream arrives as text chunks (as WebSocket frames do). The baseline only splits
them into lines; triton-deck splits them too, then spools them (`\\r` frames collapsed,
block offsets kept) and refreshes the view model, as the log screen's worker does. Each
side runs in its own process so its peak RSS is its own. Targets: at least 200,000
lines/s and at most 50 MB of RSS growth. Nothing is asserted: numbers are printed.

    python3 -m uv run python bench/log_ingest.py [--lines 5000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BATCH = 500
TARGET_RATE = 200_000
TARGET_RSS_MB = 50


def chunk() -> str:
    lines = [f"2026-11-25T14:00:{n % 60:02d}Z [job] I1125 14:00:01.{n:06d} 1 model_repository_manager.cc:1234] step {n} loss=0.{n % 997:03d}" for n in range(BATCH)]
    return "\n".join(lines) + "\n"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(kind: str, total: int) -> dict[str, float]:
    text = chunk()
    start_rss = peak_rss_mb()
    counted = 0
    if kind == "split":
        started = time.perf_counter()
        while counted < total:
            counted += len(text.split("\n")[:-1])
        elapsed = time.perf_counter() - started
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from services.logs.spool import LogSpool, LogViewModel

        with tempfile.TemporaryDirectory() as scratch:
            spool = LogSpool(Path(scratch))
            model = LogViewModel(spool)
            started = time.perf_counter()
            while counted < total:
                counted += spool.append(text.split("\n")[:-1])
                model.refresh()
            elapsed = time.perf_counter() - started
            assert model.count == counted and spool.line(counted - 1).endswith(f"step {BATCH - 1} loss=0.{(BATCH - 1) % 997:03d}")
            spool.close()
    return {"lines": counted, "seconds": elapsed, "rate": counted / elapsed, "rss_growth_mb": peak_rss_mb() - start_rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=5_000_000)
    parser.add_argument("--child", choices=("split", "deck"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run(args.child, args.lines)))
        return
    results = {}
    for kind in ("split", "deck"):
        output = subprocess.run([sys.executable, __file__, "--child", kind, "--lines", str(args.lines)], check=True, capture_output=True, text=True)
        results[kind] = json.loads(output.stdout)
    split, deck = results["split"], results["deck"]
    print(f"{'':<28}{'lines/s':>14}{'RSS growth':>14}")
    print(f"{'plain split (baseline)':<28}{split['rate']:>14,.0f}{split['rss_growth_mb']:>11.1f} MB")
    print(f"{'triton-deck log model':<28}{deck['rate']:>14,.0f}{deck['rss_growth_mb']:>11.1f} MB")
    print(f"ratio deck/baseline: {deck['rate'] / split['rate']:.2f}x of the split rate")
    print(f"target ≥{TARGET_RATE:,} lines/s: {'met' if deck['rate'] >= TARGET_RATE else 'NOT met'}; "
          f"RSS growth ≤{TARGET_RSS_MB} MB: {'met' if deck['rss_growth_mb'] <= TARGET_RSS_MB else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
