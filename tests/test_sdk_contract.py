"""Contract: every body the AI Training client sends is what the official `ovhai` SDK's models
read, field for field (`from_dict` keeps all of it, `to_dict` gives it back unchanged), and
what the fake API answers parses into the SDK's models with nothing left over."""

from __future__ import annotations

import pytest

from services.errors import UserError
from services.jobs.document import spec_document
from services.jobs.protocol import JobSpec, JobState, parse_volume
from tests.fake_ai_api import FakeAITrainingAPI
from tests.helpers import TUTORIAL_SPEC, platform_for
from tests.ovhai_sdk import models, unknown_fields

SPECS = {
    "tutorial": TUTORIAL_SPEC,
    "minimal": JobSpec(image="ubuntu"),
    "cpu and everything": JobSpec(
        image="img", command=("python", "train.py"), name="client", gpu=0, cpu=4, flavor="ai1-1-cpu", default_http_port=8080,
        grpc_port=9000, volumes=(parse_volume("data@gra/train/:/workspace/data:RW:cache"), parse_volume("my-bucket@s3gra:/workspace/out:RWD")),
        env=(("A", "1"), ("B", "two words")), labels=(("team", "ml"),), timeout_s=3600, ssh_public_keys=("ssh-ed25519 AAAA k@h",),
    ),  # fmt: skip
}


@pytest.mark.parametrize("name", SPECS)
def test_every_job_body_is_what_the_sdk_reads_without_loss(api: FakeAITrainingAPI, name: str) -> None:
    platform = platform_for(api)
    job = platform.run(SPECS[name])
    [body] = api.bodies
    assert body == spec_document(SPECS[name])
    parsed = models().JobSpec.from_dict(body)
    assert unknown_fields(parsed) == [], "every field is one the SDK knows"
    assert parsed.to_dict() == body, "and it comes back unchanged"
    assert all(volume.data_store for volume in parsed.volumes or []), "each volume's source is the SDK's dataStore"
    for empty in ("envVars", "labels", "sshPublicKeys", "command", "volumes"):
        assert body.get(empty, "unset") != [] and body.get(empty, "unset") != {}, f"unset {empty} is left out, not sent empty"
    document = api.jobs[job.id].document
    assert unknown_fields(models().Job.from_dict(document)) == [], "the fake answers in the SDK's shape"
    assert [str(volume) for volume in platform.get(job.id).spec.volumes] == [str(volume) for volume in SPECS[name].volumes]


def test_a_datastore_alias_is_sent_as_typed(api: FakeAITrainingAPI) -> None:
    platform_for(api).run(SPECS["cpu and everything"])
    assert [volume["dataStore"]["alias"] for volume in api.bodies[0]["volumes"]] == ["gra", "s3gra"]
    assert api.bodies[0]["volumes"][0]["dataStore"]["prefix"] == "train/"


def test_a_job_whose_volumes_the_api_dropped_is_stopped_at_once(api: FakeAITrainingAPI) -> None:
    """The old `volumeSource` shape is what an SDK-generated server silently drops: sent that
    way, the tutorial's server would start on an empty /workspace/models."""
    from services.jobs import ai_training

    platform = platform_for(api)
    original = ai_training.spec_document

    def old_shape(spec: JobSpec) -> dict[str, object]:
        body = original(spec)
        body["volumes"] = [{"volumeSource": {"dataStore": v.pop("dataStore")}, **v} for v in body["volumes"]]
        return body

    ai_training.spec_document = old_shape  # type: ignore[assignment]
    try:
        with pytest.raises(UserError, match=r"dropped the volume\(s\) my-models@GRA:/workspace/models:RO from job .*: the job was stopped"):
            platform.run(TUTORIAL_SPEC)
    finally:
        ai_training.spec_document = original  # type: ignore[assignment]
    [job] = api.jobs.values()
    assert job.state in {JobState.INTERRUPTING.value, JobState.INTERRUPTED.value, "INTERRUPTING", "INTERRUPTED"}
    assert ("PUT", f"/v1/job/{job.document['id']}/kill") in api.requests
