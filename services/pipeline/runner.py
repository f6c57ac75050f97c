"""The tutorial as one flow: validate → upload → build → push → serve → ready → classify → client.

Each step calls the same services the panels use, reports into its `StepRecord` (a line of
detail, a log tail, a result), and the state is saved after every change. A second run of
the same plan resumes: finished steps stay finished unless what they made is gone (a
server job that is no longer RUNNING is started again, and every later step with it),
and the upload sends only what changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from services.apps.preset import triton_app
from services.apps.protocol import App, AppSpec, AppState, FixedScaling
from services.backends import ServiceSet
from services.cancel import CancelToken
from services.config import RegistryEntry
from services.errors import UserError
from services.images.dockerfile import DEFAULT_PLATFORM, DockerfileSpec, render_dockerfile
from services.images.protocol import BuildDone, BuildFailed, BuildLog, BuildStep, ImageBuilder, LayerProgress
from services.images.push_tally import PushTally
from services.inference.endpoint import endpoint_for_app, endpoint_for_job
from services.inference.protocol import InferenceClient, Scaling, image_files
from services.jobs.protocol import Job, JobPlatform, JobSpec, JobState, VolumeSpec
from services.pipeline.plan import DeployPlan, Step, skipped_reason
from services.pipeline.state import Answer, PipelineState, PipelineStore, Progress, StepRecord, StepResult, StepStatus
from services.repository import validate_repository
from services.storage.protocol import BucketRef, ObjectStore, TransferProgress
from services.triton.frameworks import repository_serving
from services.units import human_size
from services.usecases.apps import run_app, stop_app
from services.usecases.images import build_image, push_image
from services.usecases.infer import infer
from services.usecases.inference import classify_request, is_image_classifier
from services.usecases.jobs import stop_job
from services.usecases.uploads import UploadRequest, plan_bucket_upload, run_bucket_upload

Listener = Callable[[Step, StepRecord], None]
SERVER_COMMAND = ("bash", "-c", "tritonserver --model-repository=/workspace/models")
JOB_NAME = "triton-deck-deploy"
APP_NAME = "triton-deck-deploy"
LOG_TAIL = 4


class ModelProblem(UserError):
    """The server answers but the plan's model cannot: waiting longer will not help."""


# The steps that start jobs: their ids are what a run must never forget.
JOB_STEPS = (Step.SERVE, Step.CLIENT)


Leftover = Job | App


def leftover_jobs(services: ServiceSet, store: PipelineStore) -> list[Leftover]:
    """Unfinished jobs (and a server app still up) the saved progress tracks and the pipeline
    started (never a reused one). Starting over would forget them; on OVHcloud each is billed."""
    saved = store.load()
    if saved is None:
        return []
    found: list[Leftover] = []
    app_id = saved.steps[Step.SERVE].result.app
    if app_id and services.app_platform is not None:
        try:
            app = services.app_platform.get(app_id)
            if not app.state.is_down:
                found.append(app)
        except UserError:
            pass  # deleted meanwhile
    if services.job_platform is None:
        return found
    for step in JOB_STEPS:
        job_id = saved.steps[step].result.job
        if not job_id or (step is Step.SERVE and saved.plan.reuse_job):
            continue
        try:
            job = services.job_platform.get(str(job_id))
        except UserError:
            continue  # deleted meanwhile: nothing left to forget
        if not job.state.is_terminal:
            found.append(job)
    return found


def server_app_spec(plan: DeployPlan) -> AppSpec:
    """The Triton preset with the plan's bucket and replicas (serve_as app)."""
    bucket = plan.bucket_ref
    models = VolumeSpec(bucket.name, bucket.region, "/workspace/models", "RO")
    return triton_app(plan.server_image, models, APP_NAME, FixedScaling(plan.replicas), unsecure_http=True)


class StepInterrupted(Exception):
    """The cancel came in the middle of a step: it stays unfinished for the next run."""


class PipelineRunner:
    def __init__(
        self,
        services: ServiceSet,
        store: PipelineStore,
        listener: Listener,
        cancel: CancelToken,
        ready_timeout_s: float = 300.0,
        poll_s: float | None = None,
        registries: Mapping[str, RegistryEntry] | None = None,
    ) -> None:
        self.services = services
        self.store = store
        self.listener = listener
        self.cancel = cancel
        self.ready_timeout_s = ready_timeout_s
        self.poll_s = services.backend.pipeline_poll_s if poll_s is None else poll_s  # local: no API to spare
        self.registries = registries or {}  # the push logs in to one added with credentials
        self.state: PipelineState | None = None
        self.stopped: list[Leftover] = []
        self._previous = StepRecord()
        self._steps: dict[Step, Callable[[StepRecord], None]] = {
            Step.VALIDATE: self._step_validate, Step.UPLOAD: self._step_upload, Step.BUILD: self._step_build, Step.PUSH: self._step_push,
            Step.SERVE: self._step_serve, Step.READY: self._step_ready, Step.CLASSIFY: self._step_classify, Step.CLIENT: self._step_client,
        }  # fmt: skip

    # -- the flow ------------------------------------------------------------------------------

    def start_state(self, plan: DeployPlan, resume: bool) -> PipelineState:
        saved = self.store.load() if resume else None
        if saved is None or saved.plan != plan:
            return PipelineState(plan)
        for record in saved.steps.values():
            if record.status in (StepStatus.RUNNING, StepStatus.FAILED):
                record.status = StepStatus.PENDING
        return saved

    def run(self, plan: DeployPlan, resume: bool = True, stop_leftovers: bool = False) -> PipelineState:
        """Run (or resume) the plan; returns the state, whose `failed_step` says if it failed.

        Starting over (`resume=False`) never forgets a job the last run left going: with
        `stop_leftovers` they are stopped (and listed in `self.stopped`), otherwise refused."""
        plan.check()
        if not resume:
            leftovers = leftover_jobs(self.services, self.store)
            if leftovers and not stop_leftovers:
                names = ", ".join(f"{job.short_id} ({job.state.value})" for job in leftovers)
                raise UserError(f"the last run's job {names} is still going: stop it first, or start over stopping it (demo --fresh does)")
            for leftover in leftovers:
                if isinstance(leftover, App):
                    stop_app(self.services.apps(), leftover)
                else:
                    stop_job(self._platform(), leftover)
                self.stopped.append(leftover)
        self.state = state = self.start_state(plan, resume)
        rerun = False
        for step in state.steps:
            record = state.steps[step]
            reason = skipped_reason(plan, step, self.services.backend)
            if reason is not None:
                self._update(step, StepRecord(StepStatus.SKIPPED, reason))
                continue
            if record.status is StepStatus.DONE and not rerun and self._still_valid(step, record):
                self.listener(step, replace(record, detail=f"{record.detail} (from the last run)"))
                continue
            rerun = True  # whatever follows a (re)run step runs again too
            if not self._run_step(step):
                return state
        return state

    def _run_step(self, step: Step) -> bool:
        assert self.state is not None
        self._previous = self.state.steps[step]  # an interrupted step's job, to pick up again
        record = StepRecord(StepStatus.RUNNING, "starting…")
        self._update(step, record)
        started = time.monotonic()
        try:
            self._steps[step](record)
        except StepInterrupted:
            self._update(step, replace(record, status=StepStatus.PENDING, detail="interrupted: the next run resumes here"))
            return False
        except UserError as error:
            self._update(step, replace(record, status=StepStatus.FAILED, detail=error.message, seconds=time.monotonic() - started))
            return False
        record.status, record.seconds = StepStatus.DONE, time.monotonic() - started
        self._update(step, record)
        return True

    def _update(self, step: Step, record: StepRecord) -> None:
        assert self.state is not None
        self.state.steps[step] = record
        self.store.save(self.state)
        self.listener(step, record)

    def _progress(self, step: Step, record: StepRecord) -> None:
        """A running step's news: shown, not saved (the saved record changes only at step edges)."""
        if self.cancel.cancelled:
            raise StepInterrupted
        self.listener(step, record)

    def _still_valid(self, step: Step, record: StepRecord) -> bool:
        if step is Step.SERVE:
            try:
                if record.result.app is not None:
                    app = self.services.apps().get(record.result.app)
                    return app.state is AppState.RUNNING and app.available_replicas > 0
                return record.result.job is not None and self._platform().get(record.result.job).state is JobState.RUNNING
            except UserError:
                return False
        return True

    # -- services ------------------------------------------------------------------------------

    def _platform(self) -> JobPlatform:
        return self.services.jobs()

    def _store(self) -> ObjectStore:
        return self.services.storage()

    def _builder(self) -> ImageBuilder:
        return self.services.images()

    def _server_job(self) -> Job:
        assert self.state is not None
        job_id = self.state.steps[Step.SERVE].result.job
        assert job_id is not None, "the serve step finished without a job"
        return self._platform().get(job_id)

    def _server_app(self) -> App | None:
        """The serving app with serve_as app, else None."""
        assert self.state is not None
        app_id = self.state.steps[Step.SERVE].result.app
        return self.services.apps().get(app_id) if app_id else None

    def _inference(self) -> InferenceClient:
        app = self._server_app()
        if app is not None:
            return self.services.inference_client(endpoint_for_app(app, self.plan.transport, self.services.ai_token))
        return self.services.inference_client(endpoint_for_job(self._server_job(), self.plan.transport, self.services.ai_token))

    def _server_down(self) -> str | None:
        """Why the server went away while the pipeline waits on it, or None while it serves."""
        app = self._server_app()
        if app is not None:
            return None if app.state.is_up else f"server app {app.short_id} is {app.state.value}: {app.info_message or 'see its log'}"
        job = self._server_job()
        return None if job.state is JobState.RUNNING else f"server job {job.short_id} is {job.state.value}: {job.info_message or 'see its log'}"

    def _server_url(self) -> str:
        app = self._server_app()
        return (app.url if app is not None else self._server_job().url) or ""

    @property
    def plan(self) -> DeployPlan:
        assert self.state is not None
        return self.state.plan

    # -- the steps -----------------------------------------------------------------------------

    def _step_validate(self, record: StepRecord) -> None:
        root = Path(self.plan.repository).expanduser()
        report = validate_repository(root)
        if not report.ok:
            raise UserError(f"{report.errors[0]} ({len(report.errors)} error(s): `triton-deck repo validate {self.plan.repository}`)")
        servings = repository_serving(root, self.services.profile.kind.value)  # what the profile's servers can serve, per model
        refused = next((serving for serving in servings if not serving.servable), None)
        if refused is not None:
            raise UserError(f"model '{refused.model}' cannot be served on profile '{self.services.profile.name}': {refused.line}")
        record.detail = f"{len(report.models)} model(s): {', '.join(report.models)}"
        record.tail = [f"{serving.model}: {serving.line}" for serving in servings]

    def _upload(self, step: Step, record: StepRecord, source: Path, bucket: BucketRef) -> tuple[int, int]:
        store = self._store()
        root = str(source.resolve()) + "/"
        # The plan names its bucket, so Deploy creates it on purpose; validation ran as its own step.
        planned = plan_bucket_upload(store, UploadRequest(bucket, (root,), remove_prefix=root, create_bucket=True, skip_validation=True))

        def progress(update: TransferProgress) -> None:
            record.detail = f"{update.files_done}/{update.files_total} files, {human_size(update.bytes_done)} of {human_size(update.bytes_total)}"
            record.progress = [Progress(update.bytes_done / update.bytes_total if update.bytes_total else 1.0)]
            self._progress(step, record)

        result = run_bucket_upload(store, planned, progress, self.cancel).result
        if self.cancel.cancelled:
            raise StepInterrupted
        if not result.ok:
            key, reason = result.failed[0]
            raise UserError(f"{len(result.failed)} file(s) did not upload, first {key}: {reason}")
        return len(result.done), len(result.skipped)

    def _step_upload(self, record: StepRecord) -> None:
        sent, unchanged = self._upload(Step.UPLOAD, record, Path(self.plan.repository).expanduser(), self.plan.bucket_ref)
        record.detail = f"{sent} sent, {unchanged} unchanged, to {self.plan.bucket}"

    def _step_build(self, record: StepRecord) -> None:
        spec = DockerfileSpec(version=self.plan.triton_version, base=self.plan.base_image)
        context = Path(self.plan.build_context).expanduser()
        profile = self.services.profile.name
        for event in build_image(self._builder(), profile, context, self.plan.server_image, DEFAULT_PLATFORM, render_dockerfile(spec), self.cancel):
            if isinstance(event, BuildStep):
                record.detail = f"step {event.number}/{event.total}: {event.instruction}" + (" (cached)" if event.cached else "")
            elif isinstance(event, BuildLog):
                record.add_line(event.text)
            elif isinstance(event, BuildFailed):
                raise UserError(f"step {event.step} failed: {event.message}" if event.step else event.message)
            elif isinstance(event, BuildDone):
                record.result = StepResult(image_id=event.image_id)
                record.detail = f"built {event.image_id[:19]}"
            self._progress(Step.BUILD, record)
        if self.cancel.cancelled:
            raise StepInterrupted

    def _step_push(self, record: StepRecord) -> None:
        tally = PushTally()
        for event in push_image(self._builder(), self.services.profile.name, self.registries, self.plan.server_image, self.cancel):
            if isinstance(event, LayerProgress):
                layer = tally.apply(event)
                record.progress = [Progress(state.fraction, state.layer_id, state.status) for state in tally.layers.values()][-6:]
                record.detail = f"{tally.layers_done}/{len(tally.layers)} layers ({layer.layer_id} {layer.status})"
            else:
                record.result = StepResult(digest=event.digest)
                record.detail = f"{event.reference}@{event.digest}"
            self._progress(Step.PUSH, record)
        if self.cancel.cancelled:
            raise StepInterrupted

    def _server_spec(self) -> JobSpec:
        bucket = self.plan.bucket_ref
        return JobSpec(
            image=self.plan.server_image, command=SERVER_COMMAND, name=JOB_NAME, gpu=self.plan.gpu, cpu=None if self.plan.gpu else 1,
            default_http_port=self.plan.port, unsecure_http=True,
            volumes=(VolumeSpec(bucket.name, bucket.region, "/workspace/models", "RO"),),
        )  # fmt: skip

    def _started_job(self, record: StepRecord, spec: JobSpec) -> Job:
        """The job this step started before it was interrupted, if it still lives; else a new one.
        Its id is saved at once, so a kill while it starts never leaves a job nobody knows."""
        platform = self._platform()
        earlier = self._previous.result.job
        if earlier:
            try:
                job = platform.get(earlier)
                if not job.state.is_terminal:
                    record.result = StepResult(job=job.id)
                    return job
            except UserError:
                pass
        job = platform.run(spec)
        record.result = StepResult(job=job.id)
        assert self.state is not None
        self.store.save(self.state)
        return job

    def _wait_for_job(self, step: Step, record: StepRecord, job_id: str, until: tuple[JobState, ...]) -> Job:
        platform = self._platform()
        while True:
            job = platform.get(job_id)
            record.detail = f"job {job.short_id} {job.state.value}"
            if job.state in until:
                return job
            if job.state is JobState.RUNNING:  # its own lines, as they come (the client job's answer, say)
                record.tail = [line.split("] ", 1)[-1] for line in platform.logs(job_id, tail=LOG_TAIL)]
            if job.state.is_terminal:
                raise UserError(f"job {job.short_id} is {job.state.value}: {job.info_message or 'see `triton-deck job logs ' + job.id + '`'}")
            self._progress(step, record)
            if self.cancel.wait(self.poll_s):
                raise StepInterrupted

    def _step_serve(self, record: StepRecord) -> None:
        if self.plan.serve_as == "app":
            self._serve_app(record)
            return
        platform = self._platform()
        if self.plan.reuse_job:
            job = platform.get(self.plan.reuse_job)
            if job.state is not JobState.RUNNING:
                raise UserError(f"job {job.short_id} to reuse is {job.state.value}, not RUNNING: clear reuse_job to start one")
            record.result = StepResult(job=job.id)
        else:
            job = self._started_job(record, self._server_spec())
        job = self._wait_for_job(Step.SERVE, record, job.id, (JobState.RUNNING,))
        record.detail = f"job {job.short_id} RUNNING at {job.url or job.ip}" + (" (reused)" if self.plan.reuse_job else "")

    def _serve_app(self, record: StepRecord) -> None:
        """The app this step started before (if it still lives, started again if stopped),
        else a new one; its id is saved at once. Done when a replica is up and the app RUNNING."""
        platform = self.services.apps()
        app = None
        if self._previous.result.app:
            try:
                app = platform.get(self._previous.result.app)
                if app.state.is_down:
                    platform.start(app.id)
            except UserError:
                app = None
        if app is None:
            app = run_app(platform, server_app_spec(self.plan))
        record.result = StepResult(app=app.id)
        assert self.state is not None
        self.store.save(self.state)
        while True:
            app = platform.get(app.id)
            record.detail = f"app {app.short_id} {app.state.value} {app.available_replicas}/{app.desired} replicas"
            if app.state is AppState.RUNNING and app.available_replicas > 0:
                break
            if app.state.is_failure:
                raise UserError(f"app {app.short_id} is {app.state.value}: {app.info_message or 'see `triton-deck app logs ' + app.id + '`'}")
            self._progress(Step.SERVE, record)
            if self.cancel.wait(self.poll_s):
                raise StepInterrupted
        record.detail = f"app {app.short_id} RUNNING {app.available_replicas}/{app.desired} replicas at {app.url}"

    def _step_ready(self, record: StepRecord) -> None:
        client = self._inference()
        deadline = time.monotonic() + self.ready_timeout_s
        while True:
            try:
                if client.health().ready:
                    states = {entry.name: entry for entry in client.model_index()}
                    entry = states.get(self.plan.model)
                    if entry is not None and entry.state == "READY":
                        record.detail = f"ready: {self.plan.model} READY ({len(states)} model(s))"
                        return
                    if entry is None:  # a ready server's index lists every model of its repository
                        names = ", ".join(sorted(states)) or "none"
                        raise ModelProblem(f"model '{self.plan.model}' is not in the served repository (it has: {names}): fix the plan's model")
                    if entry.state == "UNAVAILABLE":
                        raise ModelProblem(f"model '{self.plan.model}' is UNAVAILABLE: {entry.reason}")
                    record.detail = f"server ready, {self.plan.model} {entry.state or 'not loaded yet'}"
                else:
                    record.detail = "server up, not ready yet"
            except ModelProblem:
                raise
            except UserError as error:
                record.detail = f"waiting: {error.message}"
            if (down := self._server_down()) is not None:
                raise UserError(down)
            if time.monotonic() > deadline:
                raise UserError(f"not ready after {self.ready_timeout_s:g} s ({record.detail}): see the server's log (`triton-deck {self.plan.serve_as} logs`)")
            self._progress(Step.READY, record)
            if self.cancel.wait(self.poll_s):
                raise StepInterrupted

    def _step_classify(self, record: StepRecord) -> None:
        """The photos for an image classifier; any other model answers one request of random
        data in its own shapes, so a user's own repository ends green too."""
        client = self._inference()
        if not is_image_classifier(client, self.plan.model):
            answered = infer(client, self.plan.model, fill="random")
            outputs = tuple(f"{output.name} {output.datatype} {list(output.shape)}" for output in answered.outputs)
            record.result = StepResult(outputs=outputs)
            record.detail = f"{answered.model} answered in {answered.latency_ms:.0f} ms: {', '.join(outputs)}"
            return
        paths = [Path(self.plan.images).expanduser()]
        request = classify_request(paths, self.plan.model, "set images to a file or a directory of photos", top_k=self.plan.top_k, scaling=Scaling(self.plan.scaling))
        images = request.images
        answers: list[Answer] = []
        for result in client.classify(request):
            answers.append(Answer(result.image, tuple((c.score, c.index, c.label) for c in result.classes), result.error))
            record.detail = f"{len(answers)}/{len(images)} image(s)"
            self._progress(Step.CLASSIFY, record)
        failed = [answer for answer in answers if answer.error]
        record.result = StepResult(answers=tuple(answers))
        record.detail = f"{len(answers) - len(failed)} answered, {len(failed)} failed"

    def _step_client(self, record: StepRecord) -> None:
        bucket = BucketRef(f"{self.plan.bucket_ref.name}-images", self.plan.bucket_ref.region)
        self._upload(Step.CLIENT, record, Path(self.plan.images).expanduser(), bucket)
        names = [path.name for path in image_files([Path(self.plan.images).expanduser()])]
        arguments = ["-m", self.plan.model, "-c", str(self.plan.top_k), "-s", self.plan.scaling, *[f"/workspace/images/{name}" for name in names]]
        command = self.services.backend.classifier_command(self._server_url(), arguments)
        spec = JobSpec(
            image=self.plan.client_image, command=command, name=f"{JOB_NAME}-client", gpu=0, cpu=1,
            volumes=(VolumeSpec(bucket.name, bucket.region, "/workspace/images", "RO"),),
        )  # fmt: skip
        job = self._started_job(record, spec)
        job = self._wait_for_job(Step.CLIENT, record, job.id, (JobState.DONE,))
        record.tail = [line.split("[job] ", 1)[-1] for line in self._platform().logs(job.id) if "[job] " in line][-6:]
        record.detail = f"job {job.short_id} DONE"
