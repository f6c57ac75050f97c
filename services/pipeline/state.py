"""A deploy's progress, step by step, saved per profile so a quit or an SSH drop resumes it.

The file is replaced atomically after every step change, so whatever kills the process,
the next run reads the last finished step, never half a record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from services import locations
from services.errors import UserError
from services.json_keys import camel
from services.pipeline.plan import DeployPlan, Step
from services.shared_file import locked, write_atomic

TAIL_LINES = 6


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Progress:
    """One bar of a running step: the upload as a whole, or one layer of a push."""

    fraction: float
    label: str = ""
    status: str = ""


@dataclass(frozen=True)
class Answer:
    """One classified image of the classify step: the top classes, or why it failed."""

    image: str
    classes: tuple[tuple[str, int, str | None], ...] = ()  # (score as image_client prints it, index, label), best first
    error: str | None = None


@dataclass(frozen=True)
class StepResult:
    """What a finished step made, for later steps and a resume (each step fills its own field)."""

    image_id: str | None = None  # build
    digest: str | None = None  # push
    job: str | None = None  # serve, client
    app: str | None = None  # serve, with serve_as app
    answers: tuple[Answer, ...] = ()  # classify
    outputs: tuple[str, ...] = ()  # classify, for a model that is not an image classifier: "NAME DATATYPE [shape]"

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {camel(key): value for key in ("image_id", "digest", "job", "app") if (value := getattr(self, key)) is not None}
        if self.answers:
            document["answers"] = [{"image": a.image, "classes": [list(c) for c in a.classes], "error": a.error} for a in self.answers]
        if self.outputs:
            document["outputs"] = list(self.outputs)
        return document

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepResult:
        def text(key: str) -> str | None:
            return None if data.get(key) is None else str(data[key])

        answers = tuple(
            Answer(str(a["image"]), tuple((str(s), int(i), None if label is None else str(label)) for s, i, label in a.get("classes", [])), a.get("error"))
            for a in data.get("answers", [])
        )
        outputs = tuple(str(line) for line in data.get("outputs", []))
        return cls(text("imageId") or text("image_id"), text("digest"), text("job"), text("app"), answers, outputs)  # image_id: older saved runs


@dataclass
class StepRecord:
    status: StepStatus = StepStatus.PENDING
    detail: str = ""  # one line: progress, or the result, or why it failed or was skipped
    tail: list[str] = field(default_factory=list)  # the last lines of its log (build, job)
    result: StepResult = field(default_factory=StepResult)
    seconds: float | None = None
    # A running step's progress, for the front end to draw (never saved: it means nothing later).
    progress: list[Progress] = field(default_factory=list)

    def add_line(self, line: str) -> None:
        self.tail = [*self.tail, line][-TAIL_LINES:]

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status.value, "detail": self.detail, "tail": self.tail, "result": self.result.to_json(), "seconds": self.seconds}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepRecord:
        return cls(StepStatus(data["status"]), str(data.get("detail", "")), list(data.get("tail", [])), StepResult.from_json(dict(data.get("result", {}))), data.get("seconds"))


@dataclass
class PipelineState:
    plan: DeployPlan
    steps: dict[Step, StepRecord] = field(default_factory=lambda: {step: StepRecord() for step in Step})

    @property
    def finished(self) -> bool:
        return all(record.status in (StepStatus.DONE, StepStatus.SKIPPED) for record in self.steps.values())

    @property
    def failed_step(self) -> Step | None:
        return next((step for step, record in self.steps.items() if record.status is StepStatus.FAILED), None)

    def to_json(self) -> dict[str, Any]:
        return {"plan": self.plan.to_json(), "steps": {step.value: record.to_json() for step, record in self.steps.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PipelineState:
        plan = DeployPlan.from_json(data["plan"])
        steps = {step: StepRecord.from_json(data["steps"][step.value]) if step.value in data["steps"] else StepRecord() for step in Step}
        return cls(plan, steps)


class PipelineStore:
    """`$XDG_DATA_HOME/triton-deck/pipeline/<profile>.json`."""

    def __init__(self, profile: str, root: Path | None = None) -> None:
        self.path = (root or locations.data_dir() / "pipeline") / f"{profile}.json"

    def load(self) -> PipelineState | None:
        try:
            return PipelineState.from_json(json.loads(self.path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, UserError):
            return None  # an unreadable record is a fresh start, not a crash: the steps are idempotent

    def save(self, state: PipelineState) -> None:
        with locked(self.path):
            write_atomic(self.path, json.dumps(state.to_json(), indent=1))

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
