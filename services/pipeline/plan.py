"""What a deploy does: the tutorial's choices as one editable, saveable record.

A plan is data (JSON in `deploy --plan FILE` and in the saved progress), checked when it
is read so a typo fails before anything runs, with the field named.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.apps.protocol import MAX_REPLICAS
from services.config import Profile
from services.demo import CLASSIFIER, CLASSIFIER_SCALING, MODEL_REPOSITORY, SAMPLES_DIR
from services.errors import UserError
from services.images.dockerfile import DEFAULT_TRITON_VERSION
from services.inference.protocol import Scaling, Transport
from services.jobs.local import LOCAL_CLIENT_IMAGE, LOCAL_SERVER_IMAGE
from services.jobs.protocol import job_resources
from services.json_keys import camel, snake
from services.storage.protocol import BucketRef

if TYPE_CHECKING:
    from services.backends import BackendKind

SERVE_AS = ("job", "app")


class Step(StrEnum):
    VALIDATE = "validate"
    UPLOAD = "upload"
    BUILD = "build"
    PUSH = "push"
    SERVE = "serve"
    READY = "ready"
    CLASSIFY = "classify"
    CLIENT = "client"


STEP_TITLES = {
    Step.VALIDATE: "validate repository",
    Step.UPLOAD: "upload to bucket",
    Step.BUILD: "build image",
    Step.PUSH: "push image",
    Step.SERVE: "run server job",
    Step.READY: "wait until ready",
    Step.CLASSIFY: "classify the images",
    Step.CLIENT: "client job",
}
INFER_TITLE = "one inference with the model's own shapes"


def step_title(step: Step, answered_outputs: bool = False) -> str:
    """The step's title; the last step of a model that is not an image classifier is one inference."""
    return INFER_TITLE if step is Step.CLASSIFY and answered_outputs else STEP_TITLES[step]


@dataclass(frozen=True)
class DeployPlan:
    repository: str
    bucket: str
    model: str = CLASSIFIER
    images: str = str(SAMPLES_DIR)
    scaling: str = CLASSIFIER_SCALING.value
    top_k: int = 3
    protocol: str = Transport.HTTP.value
    gpu: int = 1
    server_image: str = LOCAL_SERVER_IMAGE
    build_image: bool = False  # build and push `server_image` from the tutorial's Dockerfile first
    build_context: str = "."
    triton_version: str = DEFAULT_TRITON_VERSION
    base_image: str | None = None
    reuse_job: str | None = None  # a RUNNING server job to use instead of starting one
    serve_as: str = "job"  # job (AI Training) or app (AI Deploy: replicas behind one URL)
    replicas: int = 1  # the app's fixed replica count, with serve_as app
    client_job: bool = False
    client_image: str = LOCAL_CLIENT_IMAGE

    @property
    def bucket_ref(self) -> BucketRef:
        return BucketRef.parse(self.bucket)

    @property
    def transport(self) -> Transport:
        return Transport(self.protocol)

    @property
    def port(self) -> int:
        return 8001 if self.transport is Transport.GRPC else 8000

    def check(self) -> DeployPlan:
        """Every field that can be wrong, named with the fix; returns the plan for chaining."""
        BucketRef.parse(self.bucket)  # a malformed name@REGION fails here, before anything runs
        if not Path(self.repository).expanduser().is_dir():
            raise UserError(f"plan: repository {self.repository} is not a directory: point it at the model repository")
        if self.scaling not in {s.value for s in Scaling}:
            raise UserError(f"plan: scaling '{self.scaling}' is not NONE, INCEPTION or VGG")
        if self.protocol not in {t.value for t in Transport}:
            raise UserError(f"plan: protocol '{self.protocol}' is not http or grpc")
        if not 1 <= self.top_k <= 1000:
            raise UserError(f"plan: top-k {self.top_k} is not 1-1000")
        try:  # 0 GPUs: the server runs on one CPU
            job_resources(self.gpu, 1 if self.gpu == 0 else None)
        except UserError as error:
            raise UserError(f"plan: GPUs {self.gpu}: {error.message}") from None
        if not self.model:
            raise UserError("plan: model is empty: name the model to classify with")
        if self.serve_as not in SERVE_AS:
            raise UserError(f"plan: serve as '{self.serve_as}' is not job or app")
        if not 1 <= self.replicas <= MAX_REPLICAS:
            raise UserError(f"plan: replicas {self.replicas} is not 1-{MAX_REPLICAS}")
        if self.serve_as == "app" and self.reuse_job:
            raise UserError("plan: reuse job names a job, but serve as is app: clear one of them")
        return self

    def to_json(self) -> dict[str, Any]:
        return {camel(name): value for name, value in asdict(self).items()}

    @classmethod
    def from_json(cls, data: object, where: str = "plan") -> DeployPlan:
        """A plan document, its fields in camelCase (as written) or snake_case (older files)."""
        if not isinstance(data, dict):
            raise UserError(f"{where}: a plan is a JSON object of fields")
        known = {field.name: field for field in fields(cls)}
        unknown = sorted(key for key in data if snake(key) not in known)
        if unknown:
            raise UserError(f"{where}: unknown field '{unknown[0]}' (fields: {', '.join(map(camel, known))})")
        values = {snake(key): value for key, value in data.items()}
        for name, value in values.items():
            expected = {"int": int, "bool": bool, "str": str}.get(str(known[name].type).split(" ")[0], str)
            if value is not None and not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise UserError(f"{where}: field '{camel(name)}' must be {known[name].type}, not {type(value).__name__}")
        missing = [name for name in ("repository", "bucket") if name not in values]
        if missing:
            raise UserError(f"{where}: field '{missing[0]}' is required")
        return cls(**values)

    @classmethod
    def read(cls, path: Path) -> DeployPlan:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise UserError(f"cannot read plan {path}: {error.strerror}") from None
        except ValueError as error:
            raise UserError(f"plan {path} is not valid JSON ({error}); fix it") from None
        return cls.from_json(data, str(path))

    def with_changes(self, **changes: Any) -> DeployPlan:
        return replace(self, **changes)


FIELD_LABELS = {"top_k": "top-k", "gpu": "GPUs"}  # the rest: the field's name in words


def field_label(name: str) -> str:
    """How a plan field is called on screen and in messages (its JSON key stays the file's)."""
    return FIELD_LABELS.get(name, name.replace("_", " "))


def demo_plan(profile: Profile) -> DeployPlan:
    """The tutorial on this profile with the shipped repository and photos."""
    return DeployPlan(repository=str(MODEL_REPOSITORY), bucket=f"my-models@{profile.region}", gpu=1)


def skipped_reason(plan: DeployPlan, step: Step, kind: BackendKind) -> str | None:
    """Why a step does not run for this plan on this kind of profile, or None when it does."""
    if step in (Step.BUILD, Step.PUSH):
        if not kind.builds_images:
            return kind.no_images_reason
        if not plan.build_image:
            return f"using the pushed image {plan.server_image}"
    if step is Step.SERVE and plan.reuse_job:
        return None
    if step is Step.CLIENT and not plan.client_job:
        return "not asked for: turn on client job in the plan (e)"
    return None
