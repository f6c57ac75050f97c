"""Snapshots of every panel and screen at 80×24 and 120×40, on the seeded fakes.

Deterministic by construction: a frozen clock, fixed ids, no polling, no cursor blink
(see conftest). Update with `pytest --snapshot-update` after reading the report.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from services.backends import open_services
from services.config import Config
from services.usecases.stats import StatsReading
from tests.conftest import fake_app, settle
from tests.helpers import good_repository, local_store_app
from tui.app import TritonDeck, make_app
from tui.settings import AppSettings
from widgets.log_pane import LogPane

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
SnapCompare = Callable[..., bool]


def pressing(*keys: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(
    ("keys"),
    [
        pytest.param((), id="buckets"),
        pytest.param(("enter", "enter"), id="buckets-objects"),
        pytest.param(("2",), id="images"),
        pytest.param(("2", "b", "ctrl+b"), id="images-built"),
        pytest.param(("2", "b", "ctrl+b", "p", "enter"), id="images-pushed"),
        pytest.param(("3",), id="jobs"),
        pytest.param(("4",), id="inference"),
        pytest.param(("4", "c"), id="inference-classified"),
        pytest.param(("4", "c", "tab"), id="inference-answers-focused"),
        pytest.param(("4", "s", "i", "minus"), id="inference-settings"),
        pytest.param(("4", "down", "down", "enter", "I"), id="infer-form"),
        pytest.param(("4", "down", "down", "enter", "I", "ctrl+s", "I", "ctrl+s"), id="infer-history"),
        pytest.param(("question_mark",), id="help"),
        pytest.param(("p",), id="profiles"),
        pytest.param(("p", "up", "c"), id="profiles-checked"),
        pytest.param(("p", "a"), id="profile-add-form"),
        pytest.param(("p", "a", "ctrl+t"), id="profile-add-form-local"),
        pytest.param(("2", "a"), id="registry-add-form"),
        pytest.param(("3", "j", "ctrl+d"), id="confirm-delete"),
        pytest.param(("3", "j", "enter"), id="job-detail"),
        pytest.param(("3", "slash", "r", "u", "n"), id="jobs-filtered"),
        pytest.param(("3", "n"), id="job-run-form"),
        pytest.param(("5",), id="apps"),
        pytest.param(("5", "j", "j", "enter"), id="app-detail"),
        pytest.param(("5", "j", "s"), id="app-scale"),
        pytest.param(("5", "n"), id="app-run-form"),
    ],
)
def test_panel(snap_compare: SnapCompare, keys: tuple[str, ...], size: tuple[int, int]) -> None:
    assert snap_compare(fake_app(), run_before=pressing(*keys), terminal_size=size)


@pytest.mark.parametrize(
    "keys",
    [
        pytest.param((), id="buckets"), pytest.param(("3",), id="jobs"), pytest.param(("5",), id="apps"), pytest.param(("question_mark",), id="help"),
        pytest.param(("4", "c"), id="inference-classified"),
    ],
)  # fmt: skip
def test_narrow_60x20(snap_compare: SnapCompare, keys: tuple[str, ...]) -> None:
    """At 60 columns the footer keeps `? Help` and `q Quit` and drops the least important keys."""
    assert snap_compare(fake_app(), run_before=pressing(*keys), terminal_size=(60, 20))


@pytest.mark.parametrize("size", SIZES)
def test_job_logs(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await pressing("3", "j")(pilot)
        await pilot.press("l")  # its worker follows the log until the screen closes: no settle
        pane = pilot.app.screen.query_one(LogPane)
        for _ in range(100):
            if pane.received == 8:
                break
            await pilot.pause(0.05)
        await pilot.pause()

    assert snap_compare(fake_app(), run_before=run_before, terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_app_logs_one_replica(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """Both replicas' lines merged and tagged, then `s`: only the first replica's."""

    async def run_before(pilot: Pilot[None]) -> None:
        await pressing("5", "j", "j")(pilot)
        await pilot.press("l")
        pane = pilot.app.screen.query_one(LogPane)
        for _ in range(100):
            if pane.received == 16:
                break
            await pilot.pause(0.05)
        await pilot.press("s")
        await pilot.pause()

    assert snap_compare(fake_app(), run_before=run_before, terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_app_detail_chart_over_time(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """The chart after a load wave: CPU above the target, a third replica, back down."""

    async def run_before(pilot: Pilot[None]) -> None:
        from dataclasses import replace

        from tui.screens.app_detail import AppDetailScreen

        await pressing("5", "j", "j", "enter")(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, AppDetailScreen)
        app = screen._app
        wave = [40, 45, 60, 82, 95, 97, 90, 70, 55, 50, 48, 46, 30, 20, 15, 12, 10, 9, 8, 8]
        for step, cpu in enumerate(wave):
            replicas = 3 if 5 <= step < 15 else 2
            screen._show(replace(app, signal=float(cpu), available_replicas=replicas - (step == 5), desired_replicas=replicas))
        await pilot.pause()

    assert snap_compare(fake_app(), run_before=run_before, terminal_size=size)


def recorded_level(step: int, level: int) -> object:
    from services.perf.stats import ServerBreakdown
    from services.perf.sweep import LevelResult

    return LevelResult(
        level, "concurrency", 100 * level / (1 + step * 0.3), 1000 * (1 + step), 900 * (1 + step), 1200 * (1 + step), 1300 * (1 + step),
        1500 * (1 + step) ** 1.5, 300 * level, 0, step < 3, 3 if step < 3 else 10, ServerBreakdown(300, 0, 100 * step * step, 20, 700, 15),
    )  # fmt: skip


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("finished", [pytest.param(False, id="running"), pytest.param(True, id="finished")])
def test_perf_screen(snap_compare: SnapCompare, size: tuple[int, int], finished: bool) -> None:
    """A recorded sweep replayed through the screen: two levels in and measuring, or all four done."""

    async def run_before(pilot: Pilot[None]) -> None:
        from services.perf.stability import Window
        from services.perf.sweep import LevelDone, LevelStarted, SweepEnded, WindowMeasured

        await pressing("4", "P")(pilot)
        screen = pilot.app.screen
        levels = (1, 2, 4, 8) if finished else (1, 2)
        for step, level in enumerate(levels):
            screen.show_event(LevelStarted(level))  # type: ignore[attr-defined]
            screen.show_event(LevelDone(recorded_level(step, level)))  # type: ignore[attr-defined, arg-type]
        if finished:
            screen.show_event(SweepEnded(()))  # type: ignore[attr-defined]
        else:
            screen.show_event(WindowMeasured(4, 2, Window(251.0, 2950.0, 502)))  # type: ignore[attr-defined]
        await pilot.pause()

    assert snap_compare(fake_app(), run_before=run_before, terminal_size=size)


def recorded_tune() -> list[object]:
    """A brute search over 1-3 instances with dynamic batching off and on, as `tune` yields it."""
    from services.perf.tune import Candidate, CandidateResult, pareto_front, ranked
    from services.usecases.tune import CandidateDone, CandidateStarted, TuneStarted

    grid = [Candidate(instances, None, dynamic, 0 if dynamic else None) for instances in (1, 2, 3) for dynamic in (False, True)]
    figures = {(1, False): (98.0, 21.0), (1, True): (180.5, 14.2), (2, False): (171.2, 12.1), (2, True): (305.9, 9.8), (3, False): (240.7, 15.5), (3, True): (296.4, 13.9)}
    events: list[object] = [TuneStarted(tuple(grid), "brute")]
    results = []
    for number, candidate in enumerate(grid, start=1):
        throughput, p99_ms = figures[(candidate.instances or 0, bool(candidate.dynamic))]
        events.append(CandidateStarted(candidate, number, len(grid)))
        results.append(CandidateResult(candidate, 4.0, throughput, p99_ms * 1000, 1.5 + number / 4, 0.2))
        events.append(CandidateDone(results[-1]))
    return events + [(ranked(results, "throughput"), pareto_front(results))]


def tune_ended(results: list[object], front: list[object]) -> object:
    from services.perf.tune import Candidate, CandidateResult, Verdict
    from services.usecases.tune import TuneEnded

    original = {"name": "efficientnet_lite0", "max_batch_size": 8, "instance_group": [{"count": 1, "kind": "KIND_CPU"}]}
    winner = {**original, "instance_group": [{"count": 2, "kind": "KIND_CPU"}], "dynamic_batching": {"max_queue_delay_microseconds": 0}}
    current = CandidateResult(Candidate(current=True), 4.0, 97.1, 21400.0, 2.0, 0.25)
    verdict = Verdict(results[0], "use instances=2 dynamic_batching=on(delay 0 µs): +215.0 % ± 5.0 % over the current config")  # type: ignore[arg-type]
    return TuneEnded(tuple(results), current, verdict, tuple(front), original, winner)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("stage", ["form", "running", "finished"])
def test_tune_screen(snap_compare: SnapCompare, size: tuple[int, int], stage: str) -> None:
    """`T` on a served model: the form; a recorded search four candidates in and measuring the
    fifth; and ended, with the chart, the verdict and the winner's diff."""

    async def run_before(pilot: Pilot[None]) -> None:
        await pressing("4", "T")(pilot)
        screen = pilot.app.screen
        events = recorded_tune()
        (results, front) = events.pop()  # type: ignore[misc]
        if stage == "running":
            events = events[:10]
        elif stage == "finished":
            events.append(tune_ended(results, front))
        else:
            events = []
        for event in events:
            screen.show_event(event)  # type: ignore[attr-defined]
        await settle(pilot)

    assert snap_compare(fake_app(), run_before=run_before, terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_perf_screen_with_a_client_job(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """`j` puts the sweep in a client job; the levels perf_analyzer printed in the job's log
    (2.34's captured output, read as the screen's worker reads it) stream onto the screen."""

    async def run_before(pilot: Pilot[None]) -> None:
        from services.perf.analyzer import parse_output
        from services.perf.sweep import SweepConfig

        await pressing("4", "P", "j")(pilot)
        screen = pilot.app.screen
        captured = (Path(__file__).resolve().parent / "data" / "perf_analyzer_2.34_http.txt").read_text().splitlines()
        events = list(parse_output(iter(captured), SweepConfig("efficientnet_lite0", (1.0, 2.0))))
        for event in events:
            screen.show_event(event)  # type: ignore[attr-defined]
        await pilot.pause()

    assert snap_compare(fake_app(), run_before=run_before, terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_inference_statistics(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """A minute of the model's counters, a reading a second (the fake's grow by 40 a reading)."""

    async def run_before(pilot: Pilot[None]) -> None:
        from tui.panels.inference import InferencePanel

        await pressing("4")(pilot)
        panel = pilot.app.query_one(InferencePanel)
        client = pilot.app.services.inference_client(panel._server.endpoint)  # type: ignore[attr-defined, union-attr]
        for second in range(60):
            panel.post_message(InferencePanel.StatsRead(StatsReading("efficientnet_lite0", float(second), client.model_stats("efficientnet_lite0"))))
        await settle(pilot)  # the models table takes focus once its load lands: on a loaded machine that came after one pause

    assert snap_compare(fake_app(), run_before=run_before, terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_inference_statistics_per_app_replica(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """An app of two replicas that answer by themselves: each one's rate under the model's."""

    async def run_before(pilot: Pilot[None]) -> None:
        from services.inference.fake import FakeStatsCounter
        from tui.panels.inference import InferencePanel

        await pressing("4")(pilot)
        panel = pilot.app.query_one(InferencePanel)
        client = pilot.app.services.inference_client(panel._server.endpoint)  # type: ignore[attr-defined, union-attr]
        first, second_replica = FakeStatsCounter(), FakeStatsCounter()
        for second in range(60):
            first.read()  # read twice a second: this replica takes twice the other's traffic
            replicas = (("a1b2c3d4-0", first.read()), ("a1b2c3d4-1", second_replica.read()))
            panel.post_message(InferencePanel.StatsRead(StatsReading("efficientnet_lite0", float(second), client.model_stats("efficientnet_lite0"), replicas)))
        await pilot.pause()

    assert snap_compare(fake_app(), run_before=run_before, terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_job_logs_searched_and_paused(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await pressing("3", "j")(pilot)
        await pilot.press("l")
        pane = pilot.app.screen.query_one(LogPane)
        for _ in range(100):
            if pane.received == 8:
                break
            await pilot.pause(0.05)
        await pilot.press("slash", *"started", "enter")
        for _ in range(100):
            if pane.view.current_match is not None:
                break
            await pilot.pause(0.05)
        await pilot.press("t")
        await pilot.pause()

    assert snap_compare(fake_app(), run_before=run_before, terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_real_local_profile(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    app: TritonDeck = make_app("local", Config(), open_services, AppSettings(poll=False), env={})
    assert snap_compare(app, run_before=pressing(), terminal_size=size)


def test_palette(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await pressing("colon", *"jobs")(pilot)
        await pilot.pause(0.3)

    assert snap_compare(fake_app(), run_before=run_before, terminal_size=(80, 24))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("broken", [pytest.param(False, id="valid"), pytest.param(True, id="broken")])
def test_upload_dialog(
    snap_compare: SnapCompare, size: tuple[int, int], broken: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    repo = good_repository(tmp_path)
    if broken:
        (repo / "densenet_onnx" / "densenet_labels.txt").write_text("ONLY\n")
        (repo / "simple" / "01").mkdir()
    app, _ = local_store_app(tmp_path / "buckets")
    assert snap_compare(app, run_before=pressing("enter", "u"), terminal_size=size)


def saved_deploy(failed: bool, interrupted: bool = False) -> None:
    """A finished (or failed) run as the deploy screen finds it on disk: fixed times, the fakes' answers."""
    from services.config import local_profile
    from services.fake_set import SAMPLE_ANSWERS
    from services.pipeline.plan import Step, demo_plan
    from services.pipeline.state import Answer, PipelineState, PipelineStore, StepRecord, StepResult, StepStatus

    state = PipelineState(demo_plan(local_profile()))
    details = {
        Step.VALIDATE: "2 model(s): efficientnet_lite0, simple", Step.UPLOAD: "6 sent, 0 unchanged, to my-models@LOCAL",
        Step.SERVE: "job 00000001 RUNNING at http://127.0.0.1:8000", Step.READY: "ready: efficientnet_lite0 READY (2 model(s))",
        Step.CLASSIFY: "2 answered, 0 failed",
    }  # fmt: skip
    for index, (step, detail) in enumerate(details.items()):
        state.steps[step] = StepRecord(StepStatus.DONE, detail, seconds=0.5 + index)
    state.steps[Step.VALIDATE].tail = [f"{model}: served locally by the python backend" for model in ("efficientnet_lite0", "simple")]
    for step in (Step.BUILD, Step.PUSH):
        state.steps[step] = StepRecord(StepStatus.SKIPPED, "the local profile runs the bundled tritonserver: no image to build")
    state.steps[Step.CLIENT] = StepRecord(StepStatus.SKIPPED, "not asked for: turn on client job in the plan (e)")
    answers = tuple(
        Answer(f"demo/samples/{name}", tuple((score, int(index), label) for score, index, label in (t.split(":", 2) for t in texts)))
        for name, texts in sorted(SAMPLE_ANSWERS.items())
    )
    state.steps[Step.CLASSIFY].result = StepResult(answers=answers)
    if failed:
        state.steps[Step.READY] = StepRecord(StepStatus.FAILED, "model 'nope' is not in the served repository (it has: efficientnet_lite0, simple): fix the plan's model", seconds=2.5)
        state.steps[Step.CLASSIFY] = StepRecord()
        state.steps[Step.SERVE].tail = ["I1125 14:00:03 grpc_server.cc] Started GRPCInferenceService at 0.0.0.0:8001", "I1125 14:00:03 http_server.cc] Started HTTPService at 0.0.0.0:8000"]
    if interrupted:  # the app was closed during the upload: the step shows as running until `r` resumes it
        for step in (Step.UPLOAD, Step.SERVE, Step.READY, Step.CLASSIFY):
            state.steps[step] = StepRecord()
        state.steps[Step.UPLOAD] = StepRecord(StepStatus.RUNNING, "3/6 files, 12.1 MiB of 17.8 MiB")
    PipelineStore("local").save(state)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("saved", "keys"), [
    pytest.param(None, ("0",), id="deploy-new"),
    pytest.param(None, ("0", "c"), id="deploy-commands"),
    pytest.param("done", ("0",), id="deploy-done"),
    pytest.param("failed", ("0", "j", "j", "j", "j", "j"), id="deploy-failed"),
    pytest.param("interrupted", ("0",), id="deploy-interrupted"),
    pytest.param(None, ("0", "e"), id="deploy-plan-form"),
])  # fmt: skip
def test_deploy(snap_compare: SnapCompare, size: tuple[int, int], saved: str | None, keys: tuple[str, ...]) -> None:
    if saved:
        saved_deploy(failed=saved == "failed", interrupted=saved == "interrupted")
    assert snap_compare(fake_app(), run_before=pressing(*keys), terminal_size=size)
