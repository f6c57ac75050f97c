"""`0` (or "Deploy" in the palette): the whole tutorial as one flow of steps.

Each step shows its status, time and live detail (upload totals, build log tail, push
layers, job state, readiness, the top-k table) and, with `c`, the ovhai/docker/image_client
command it replaces. `r` runs or resumes (finished steps stay finished; progress is saved
per profile, so leaving, quitting or an SSH drop loses nothing), `f` starts over, `e` edits
the plan, `enter` opens the step's panel. The runner is a thread worker; leaving the screen
cancels it and the step it was in resumes next time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from services.errors import UserError
from services.inference.protocol import Classification
from services.pipeline.commands import equivalent_command, shown_path
from services.pipeline.plan import STEP_TITLES, DeployPlan, Step, demo_plan, step_title
from services.pipeline.runner import Leftover, PipelineRunner, leftover_jobs
from services.pipeline.state import Answer, PipelineState, PipelineStore, StepRecord, StepStatus
from services.secrets import redact
from tui.keymap import KEYMAP
from tui.panels.base import confirm_screen
from tui.render import progress_line
from tui.screens.deck_access import DeckAccess
from tui.workers import worker_token
from widgets.classification_card import ClassRow, classes_table
from widgets.inert import inert
from widgets.priority_footer import PriorityFooter
from widgets.step_view import StepData, StepView

if TYPE_CHECKING:
    pass

STEP_PANELS = {
    Step.VALIDATE: "buckets", Step.UPLOAD: "buckets", Step.BUILD: "images", Step.PUSH: "images",
    Step.SERVE: "jobs", Step.READY: "inference", Step.CLASSIFY: "inference", Step.CLIENT: "jobs",
}  # fmt: skip


def answers_table(answers: tuple[Answer, ...]) -> RenderableType:
    """The top-k of each image, as the inference pane's cards show them (without the thumbnail)."""
    parts: list[RenderableType] = []
    for answer in answers:
        parts.append(inert(f"    {Path(answer.image).name}", style="bold"))
        if answer.error:
            parts.append(inert(f"      {answer.error}", style="red"))
            continue
        rows = [ClassRow(Classification(s, i, label).value, s, i, label) for s, i, label in answer.classes]
        parts.append(Padding(classes_table(rows), (0, 0, 0, 6)))
    return Group(*parts)


class DeployScreen(DeckAccess, Screen[None]):
    BINDINGS = KEYMAP["deploy"]

    @dataclass
    class Changed(Message):
        step: Step
        record: StepRecord

    @dataclass
    class Finished(Message):
        state: PipelineState

    def __init__(self, poll_s: float | None = None) -> None:
        super().__init__()
        self._poll_s = poll_s
        self._commands = False
        self._records: dict[Step, StepRecord] = {}
        self._plan: DeployPlan | None = None

    @property
    def store(self) -> PipelineStore:
        return PipelineStore(self.deck.services.profile.name)

    def compose(self) -> ComposeResult:
        yield Static(id="deploy-plan")
        with VerticalScroll(id="deploy-steps"):
            for step in Step:
                yield StepView(id=f"step-{step.value}", classes="step")
        yield Static(id="deploy-status")
        yield PriorityFooter()

    def on_mount(self) -> None:
        saved = self.store.load()
        self._plan = saved.plan if saved else demo_plan(self.deck.services.profile)
        self._records = dict(saved.steps) if saved else {step: StepRecord() for step in Step}
        self._render_all()
        self.query_one(StepView).focus()
        unfinished = saved is not None and not saved.finished
        self._status("a saved run: r resumes it, f starts over" if unfinished else "r runs the plan · e edits it · c shows the commands")

    # -- rendering -------------------------------------------------------------------------------

    def _render_plan(self) -> None:
        plan = self._plan
        assert plan is not None
        label = Text.assemble(("Deploy ", "bold"), (f"profile {self.deck.services.profile.name}", "dim"), "  ")
        chain = Text.assemble(
            shown_path(plan.repository), " → ", plan.bucket, " → ", plan.server_image, f" ({plan.gpu} GPU, port {plan.port})",
            " → ", plan.model, f" top-{plan.top_k} {plan.scaling} on {shown_path(plan.images)}",
        )  # fmt: skip
        grid = Table.grid()  # the chain wraps under itself, not back under "Deploy"
        grid.add_column(no_wrap=True, width=label.cell_len)
        grid.add_column()
        grid.add_row(label, chain)
        self.query_one("#deploy-plan", Static).update(grid)

    def _render_step(self, step: Step) -> None:
        assert self._plan is not None
        record = self._records.get(step, StepRecord())
        answers = record.result.answers if step is Step.CLASSIFY else ()
        data = StepData(
            title=step_title(step, bool(record.result.outputs)), status=record.status.value, detail=redact(record.detail), seconds=record.seconds,
            lines=[*map(progress_line, record.progress), *(redact(line) for line in record.tail)],
            command=equivalent_command(self._plan, step, self.deck.services.backend),
            extra=answers_table(answers) if answers else None,
        )  # fmt: skip
        self.query_one(f"#step-{step.value}", StepView).show(data, self._commands)

    def _render_all(self) -> None:
        self._render_plan()
        for step in Step:
            self._render_step(step)

    def _status(self, text: str, style: str = "dim") -> None:
        self.query_one("#deploy-status", Static).update(inert(text, style=style))

    # -- running -------------------------------------------------------------------------------

    def action_run(self) -> None:
        self._start(fresh=False)

    def action_fresh(self) -> None:
        if not self._busy():
            self._check_leftovers()

    @work(thread=True, exclusive=True, group="deploy-leftovers", exit_on_error=False)
    def _check_leftovers(self) -> None:
        """Starting over must not forget the last run's jobs: ask before stopping them."""
        leftovers = leftover_jobs(self.deck.services, self.store)
        self.app.call_from_thread(self._confirm_fresh, leftovers)

    def _confirm_fresh(self, leftovers: list[Leftover]) -> None:
        if not leftovers:
            finished = [step for step, record in self._records.items() if record.status in (StepStatus.DONE, StepStatus.FAILED)]
            if not finished:
                self._start(fresh=True)
                return

            def fresh_confirmed(yes: bool | None) -> None:
                if yes:
                    self._start(fresh=True)

            steps = "1 step" if len(finished) == 1 else f"{len(finished)} steps"
            self.app.push_screen(confirm_screen(f"Start over? The {steps} already run will run again.", "r resumes from where the last run stopped instead."), fresh_confirmed)
            return
        names = ", ".join(f"{item.name} ({item.short_id}, {item.state.value})" for item in leftovers)

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._start(fresh=True)
            else:
                self.notify(f"kept {names}: r resumes with it", severity="warning")

        self.app.push_screen(confirm_screen(f"Start over and stop {names}?", "The last run started it; starting over would leave it running."), confirmed)

    def _busy(self) -> bool:
        if self.workers and any(worker.group == "deploy" and worker.is_running for worker in self.workers):
            self.notify("already running: esc leaves (the run resumes next time)", severity="warning")
            return True
        return False

    def _start(self, fresh: bool) -> None:
        if self._busy():
            return
        assert self._plan is not None
        if fresh:
            self._records = {step: StepRecord() for step in Step}
            self._render_all()
        self._status("running…", "bold yellow")
        self._run(self._plan, fresh)

    @work(thread=True, exclusive=True, group="deploy", exit_on_error=False)
    def _run(self, plan: DeployPlan, fresh: bool) -> None:
        cancel = worker_token()
        def changed(step: Step, record: StepRecord) -> None:
            self.post_message(self.Changed(step, _copy(record)))

        runner = PipelineRunner(self.deck.services, self.store, changed, cancel, poll_s=self._poll_s, registries=self.deck.config.registries)
        state = runner.run(plan, resume=not fresh, stop_leftovers=fresh)  # a fresh start was confirmed
        if not cancel.cancelled:
            self.post_message(self.Finished(state))

    @on(Changed)
    def _changed(self, message: Changed) -> None:
        self._records[message.step] = message.record
        self._render_step(message.step)

    @on(Finished)
    def _finished(self, message: Finished) -> None:
        failed = message.state.failed_step
        if failed is not None:
            self._status(f"failed at {STEP_TITLES[failed]}: {redact(message.state.steps[failed].detail)} · r retries from there", "bold red")
        else:
            self._status("done: every step finished · f starts over", "bold green")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self.deck.show_error(event.worker.error)
            self._status(redact(str(event.worker.error)), "bold red")

    # -- the rest ------------------------------------------------------------------------------

    def action_copy_command(self) -> None:
        focused = self.focused
        if self._plan is None or not isinstance(focused, StepView) or not (focused.id or "").startswith("step-"):
            self.notify("move to a step first (j/k)", severity="warning")
            return
        step = Step((focused.id or "").removeprefix("step-"))
        self.deck.copy_text(equivalent_command(self._plan, step, self.deck.services.backend), f"the command of '{step_title(step)}'")

    def action_toggle_commands(self) -> None:
        self._commands = not self._commands
        self._render_all()

    def action_edit(self) -> None:
        from tui.screens.deploy_plan import DeployPlanScreen

        assert self._plan is not None
        self.app.push_screen(DeployPlanScreen(self._plan), self._plan_edited)

    def action_edit_external(self) -> None:
        """The plan as JSON in the user's $EDITOR; a plan that does not check is refused whole."""
        from tui.handoff import hand_over, scratch_file

        assert self._plan is not None
        if self._busy():
            return
        with scratch_file("plan.json", json.dumps(self._plan.to_json(), indent=2) + "\n") as path:
            problem = hand_over(self.app, "EDITOR", path)
            try:
                plan = None if problem else DeployPlan.read(path).check()
            except UserError as error:
                problem, plan = f"{error.message}: the plan is unchanged", None
        if problem:
            self.notify(problem, severity="warning")
        self._plan_edited(plan)

    def _plan_edited(self, plan: DeployPlan | None) -> None:
        if plan is None or plan == self._plan:
            return
        self.workers.cancel_group(self, "deploy")
        self._plan = plan
        self._records = {step: StepRecord() for step in Step}
        self.store.save(PipelineState(plan))
        self._render_all()
        self._status("plan changed: r runs it from the start")

    def action_open_panel(self) -> None:
        focused = self.focused
        if isinstance(focused, StepView) and focused.id:
            step = Step(focused.id.removeprefix("step-"))
            self.action_leave()
            self.deck.action_show_panel(STEP_PANELS[step])

    def action_leave(self) -> None:
        self.workers.cancel_group(self, "deploy")
        self.dismiss()


def _copy(record: StepRecord) -> StepRecord:
    """The runner keeps mutating its record; the UI gets a snapshot."""
    return StepRecord(record.status, record.detail, list(record.tail), record.result, record.seconds, list(record.progress))
