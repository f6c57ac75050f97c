"""`job logs --tail 2` against `tail -n 2` on the same files, in the same run.

Two logs are written to a scratch directory: one 64 MB line (a job that never printed a
newline) and 5 million short lines. For each, `tail -n 2` (coreutils) is the baseline;
triton-deck's side is what `job logs --tail 2` runs on the local profile (the local job
platform's `logs(job, tail=2)`), in a child process so its time and peak RSS are its own
and the interpreter's start-up, measured in the same child before the read, is left out.
Rounds alternate who goes first. Targets: at most 2× `tail`'s time and at most 64 MB of RSS
over the interpreter. Nothing is asserted: numbers are printed.

    python3 -m uv run python bench/log_tail.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 2.0
TARGET_RSS_MB = 64
ROOT = Path(__file__).resolve().parent.parent


def write_logs(root: Path) -> dict[str, Path]:
    """Each log as a local job's directory (a record and its log.txt)."""
    logs = {}
    for name, writer in (("one 64 MB line", _one_long_line), ("5M short lines", _short_lines)):
        job_dir = root / name.replace(" ", "-")
        job_dir.mkdir()
        (job_dir / "job.json").write_text("{}")
        with (job_dir / "log.txt").open("wb") as handle:
            writer(handle)
        logs[name] = job_dir
    return logs


def _one_long_line(handle: object) -> None:
    block = b"2026-12-05T12:00:00Z [job] " + b"x" * (1024 * 1024 - 27)
    for _ in range(64):
        handle.write(block)  # type: ignore[attr-defined]
    handle.write(b"\n")  # type: ignore[attr-defined]


def _short_lines(handle: object) -> None:
    for start in range(0, 5_000_000, 100_000):
        handle.write(b"".join(b"2026-12-05T12:00:00Z [job] step %d loss=0.%03d\n" % (n, n % 997) for n in range(start, start + 100_000)))  # type: ignore[attr-defined]


def child(job_dir: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from services.jobs.local import LocalJobPlatform

    platform = LocalJobPlatform(job_dir.parent)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    lines = list(platform.logs(job_dir.name, tail=2))
    elapsed = time.perf_counter() - started
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(json.dumps({"seconds": elapsed, "rss_growth_mb": grown, "lines": len(lines), "last_length": len(lines[-1])}))


def deck_run(job_dir: Path) -> dict[str, float]:
    output = subprocess.run([sys.executable, __file__, "--child", str(job_dir)], check=True, capture_output=True, text=True)
    return json.loads(output.stdout)  # type: ignore[no-any-return]


def tail_run(job_dir: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["tail", "-n", "2", str(job_dir / "log.txt")], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    with tempfile.TemporaryDirectory() as scratch:
        logs = write_logs(Path(scratch))
        print(f"{'':<18}{'tail -n 2':>12}{'job logs':>12}{'ratio':>8}{'RSS growth':>13}")
        for name, job_dir in logs.items():
            tails, decks, growth = [], [], []
            for round_ in range(args.rounds):
                order = (tail_run, deck_run) if round_ % 2 == 0 else (deck_run, tail_run)
                for run in order:
                    if run is tail_run:
                        tails.append(tail_run(job_dir))
                    else:
                        result = deck_run(job_dir)
                        decks.append(result["seconds"])
                        growth.append(result["rss_growth_mb"])
            tail_s, deck_s = statistics.median(tails), statistics.median(decks)
            ratio = deck_s / tail_s
            verdict = "met" if ratio <= TARGET_RATIO and max(growth) <= TARGET_RSS_MB else "NOT met"
            print(f"{name:<18}{tail_s * 1000:>10.1f}ms{deck_s * 1000:>10.1f}ms{ratio:>7.2f}x{max(growth):>10.1f} MB  {verdict}")
        print(f"targets: ≤{TARGET_RATIO}× tail -n 2 (tail's time includes its exec), ≤{TARGET_RSS_MB} MB over the interpreter")


if __name__ == "__main__":
    main()
