"""Live log follow through a connection that keeps breaking, against the tests' fake AI API.

The shape of issue 15's measurement: a job that already has 3,000 lines and writes 50 a
second, its WebSocket cut every 7 frames (replayed frames count) or every 500. Reported per
case: how far behind the live output ran (the worst line: written → delivered), lines lost
and repeated, and requests per second to the API. Targets: ≤ 2 s behind, 0 lost, 0
repeated, ≤ 2 requests/s. It asserts nothing: timings are reported, not tested.

    python3 -m uv run python bench/log_follow.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import threading
import time

from services.cancel import CancelToken
from services.jobs.ai_training import AITrainingPlatform
from services.jobs.protocol import JobSpec, is_marker
from services.secrets import Secret
from tests.fake_ai_api import TOKEN, FakeAITrainingAPI


def one_case(cut: int, seconds: float) -> str:
    api = FakeAITrainingAPI().start()
    try:
        api.cut_every_frames = cut
        platform = AITrainingPlatform(api.base_url, lambda: Secret(TOKEN), "env OVHAI_TOKEN")
        job = platform.run(JobSpec(image="ubuntu", command=("true",)))
        for _ in range(3):
            api.advance(job.id)
        api.emit(job.id, [f"history {n:05d}" for n in range(3000)])
        written: dict[str, float] = {}
        before = len(api.requests)
        started = time.monotonic()

        def write() -> None:
            for tick in range(int(seconds * 10)):
                batch = [f"live {tick:05d}.{n}" for n in range(5)]
                now = time.monotonic()
                written.update((line, now) for line in batch)
                api.emit(job.id, batch)
                threading.Event().wait(0.1)
            api.finish(job.id)

        threading.Thread(target=write, daemon=True).start()
        worst = 0.0
        received: list[str] = []
        for item in platform.follow_logs(job.id, CancelToken()):
            if is_marker(item):
                continue
            received.append(item)
            text = item.split("] ", 1)[-1]
            if text in written:
                worst = max(worst, time.monotonic() - written[text])
        elapsed = time.monotonic() - started
        expected = api.jobs[job.id].lines
        lost = len(set(expected) - set(received))
        repeated = len(received) - len(set(received))
        rate = (len(api.requests) - before) / elapsed
        return f"cut every {cut:>3} frames: {worst:5.2f} s behind at worst, {lost} lost, {repeated} repeated, {rate:4.2f} requests/s, {api.drops} cuts"
    finally:
        api.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    for cut in (7, 500):
        print(one_case(cut, args.seconds))
    print("targets: ≤ 2 s behind, 0 lost, 0 repeated, ≤ 2 requests/s")


if __name__ == "__main__":
    main()
