"""`perf --client-job` on an OVHcloud profile, against the fake AI Training API and moto's S3:
the job's body (the SDK image, perf_analyzer's command, a read-write results volume in the
SDK's own shape), its levels read from the job's log as it streams, the CSV fetched from the
results bucket, and the job deleted afterwards. The fake platform plays the job: it replays
perf_analyzer 2.34's captured output into the log and writes its CSV where the volume says."""

from __future__ import annotations

import threading
from pathlib import Path

import boto3

from services.backends import open_services
from services.cancel import CancelToken
from services.config import Profile, ProfileKind
from services.inference.protocol import Endpoint, Transport
from services.perf.sweep import LevelDone, LevelStarted, SweepConfig, SweepEnded
from services.usecases.perf_job import SDK_IMAGE, client_job_plan, client_job_sweep
from tests.fake_ai_api import TOKEN, FakeAITrainingAPI

DATA = Path(__file__).resolve().parent / "data"


def test_a_client_job_on_ai_training_streams_its_levels_fetches_its_csv_and_goes(moto_endpoint: str, tmp_path: Path) -> None:
    api = FakeAITrainingAPI().start()
    env = {"OVHAI_TOKEN": TOKEN, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "HOME": str(tmp_path)}
    profile = Profile(name="gra", kind=ProfileKind.OVHCLOUD, region="GRA", api_url=api.base_url, s3_endpoint=moto_endpoint, s3_region="us-east-1")
    services = open_services(profile, env)
    stop = threading.Event()
    seen: dict[str, object] = {}

    def platform() -> None:
        """The job runs: RUNNING, perf_analyzer's lines in its log, its CSV into the volume, DONE."""
        while not stop.wait(0.05):
            for job_id, job in list(api.jobs.items()):
                if job.state in ("QUEUED", "INITIALIZING", "PENDING"):
                    api.advance(job_id)
                elif job.state == "RUNNING" and job_id not in seen:
                    seen[job_id] = job.document["spec"]
                    volume = job.document["spec"]["volumes"][0]
                    api.emit(job_id, (DATA / "perf_analyzer_2.34_http.txt").read_text().splitlines())
                    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
                    s3.put_object(Bucket=volume["dataStore"]["container"], Key=volume["dataStore"]["prefix"] + "perf.csv", Body=(DATA / "perf_analyzer_2.34_http.csv").read_bytes())
                    api.finish(job_id)

    player = threading.Thread(target=platform, daemon=True)
    player.start()
    try:
        plan = client_job_plan(local=False, region="GRA")
        client = services.inference_client(Endpoint("https://0000.job.gra.ai.cloud.ovh.net", Transport.HTTP))
        config = SweepConfig("simple", (1.0, 2.0), interval_ms=2000)
        events = list(client_job_sweep(services.jobs(), services.storage(), plan, client, config, CancelToken()))
    finally:
        stop.set()
        player.join()
        api.stop()
    assert [type(event) for event in events] == [LevelStarted, LevelDone, LevelStarted, LevelDone, SweepEnded]
    end = events[-1]
    assert isinstance(end, SweepEnded) and end.reason is None
    assert [(r.level, r.throughput, r.p99_us) for r in end.results] == [(1.0, 2570.47, 1005.0), (2.0, 4406.66, 896.0)]
    (spec,) = seen.values()
    assert isinstance(spec, dict) and spec["image"] == SDK_IMAGE and spec["resources"]["cpu"] == 1
    command = spec["command"]
    assert command[:3] == ["perf_analyzer", "-m", "simple"] and command[command.index("-u") + 1] == "0000.job.gra.ai.cloud.ovh.net:443"
    assert command[command.index("-f") + 1] == "/workspace/results/perf.csv" and "--ssl-https-verify-peer" in command
    volume = spec["volumes"][0]
    assert volume["dataStore"]["container"] == "perf-results" and volume["dataStore"]["alias"] == "GRA" and volume["permission"] == "RW"
    assert volume["mountPath"] == "/workspace/results" and volume["dataStore"]["prefix"].startswith("perf/")
    assert api.jobs == {}, "the client job is deleted afterwards"
