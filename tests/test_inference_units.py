"""Endpoints, image_client's model checks and batch filling, without a server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.errors import UserError
from services.inference.endpoint import endpoint_for_job, endpoint_for_url, parse_address, serving_jobs
from services.inference.image_client import check_batch_size, parse_image_model
from services.inference.protocol import Classification, Transport
from services.inference.triton import plan_batches
from services.jobs.protocol import Job, JobSpec, JobState
from services.secrets import Secret

# image_client's example model, as triton-client.md §5 records its metadata and config.
DENSENET_METADATA = {
    "name": "densenet_onnx",
    "inputs": [{"name": "data_0", "datatype": "FP32", "shape": [3, 224, 224]}],
    "outputs": [{"name": "fc6_1", "datatype": "FP32", "shape": [1000]}],
}
DENSENET_CONFIG = {"name": "densenet_onnx", "max_batch_size": 0, "input": [{"name": "data_0", "format": "FORMAT_NCHW", "dims": [3, 224, 224]}]}


@pytest.mark.parametrize(
    ("url", "transport", "display", "target", "tls"),
    [
        ("https://abc.job.gra.ai.cloud.ovh.net", Transport.HTTP, "https://abc.job.gra.ai.cloud.ovh.net", "abc.job.gra.ai.cloud.ovh.net:443", True),
        ("http://example.com:8443/prefix/", Transport.HTTP, "http://example.com:8443/prefix", "example.com:8443/prefix", False),
        ("localhost:8000", Transport.HTTP, "http://localhost:8000", "localhost:8000", False),
        ("localhost", Transport.HTTP, "http://localhost:8000", "localhost:8000", False),
        ("localhost", Transport.GRPC, "grpc://localhost:8001", "localhost:8001", False),
        ("51.210.1.2:8001", Transport.GRPC, "grpc://51.210.1.2:8001", "51.210.1.2:8001", False),
        ("http://[::1]:8000", Transport.HTTP, "http://[::1]:8000", "[::1]:8000", False),
    ],
)
def test_addresses_parse_every_form_users_paste(url: str, transport: Transport, display: str, target: str, tls: bool) -> None:
    address = parse_address(url, transport)
    assert (address.display, address.target, address.tls) == (display, target, tls)


@pytest.mark.parametrize(
    ("url", "transport", "fragment"),
    [
        ("", Transport.HTTP, "no server URL"),
        ("ftp://host", Transport.HTTP, "scheme 'ftp'"),
        ("localhost:99999", Transport.HTTP, "bad port"),
        ("localhost:80a", Transport.HTTP, "bad port"),
        ("http://host:8000/base", Transport.GRPC, "gRPC cannot use"),
        ("http://user@host", Transport.HTTP, r"is not host\[:port\]"),
    ],
)
def test_bad_addresses_say_what_to_type(url: str, transport: Transport, fragment: str) -> None:
    with pytest.raises(UserError, match=fragment):
        parse_address(url, transport)


def _job(state: JobState, unsecure: bool = False, command: tuple[str, ...] = ("tritonserver",), minute: int = 0, **status: str) -> Job:
    spec = JobSpec(image="img", command=command, unsecure_http=unsecure)
    return Job(f"job-{minute}", spec, state, datetime(2026, 1, 1, 0, minute, tzinfo=UTC), **status)  # type: ignore[arg-type]


def test_a_jobs_endpoint_carries_the_token_unless_unsecure() -> None:
    token = Secret("job-token-123")
    secure = _job(JobState.RUNNING, url="https://j.job.gra.ai.cloud.ovh.net", ip="10.0.0.5")
    assert endpoint_for_job(secure, Transport.HTTP, lambda: token).bearer == token
    assert endpoint_for_job(secure, Transport.GRPC, lambda: token).url == "10.0.0.5:8001"
    open_job = _job(JobState.RUNNING, unsecure=True, url="https://j.job.gra.ai.cloud.ovh.net")
    assert endpoint_for_job(open_job, Transport.HTTP, lambda: token).bearer is None
    assert endpoint_for_url("https://x.job.gra.ai.cloud.ovh.net", Transport.HTTP, lambda: token).bearer == token
    assert endpoint_for_url("localhost:8000", Transport.HTTP, lambda: token).bearer is None
    assert "job-token-123" not in repr(endpoint_for_job(secure, Transport.HTTP, lambda: token))
    with pytest.raises(UserError, match="is QUEUED, not RUNNING"):
        endpoint_for_job(_job(JobState.QUEUED), Transport.HTTP, None)
    with pytest.raises(UserError, match="has no http address"):
        endpoint_for_job(_job(JobState.RUNNING, ip="1.2.3.4"), Transport.HTTP, None)


def test_the_default_server_is_the_newest_running_triton_job() -> None:
    jobs = [
        _job(JobState.RUNNING, minute=1, url="http://a"),
        _job(JobState.RUNNING, minute=3, command=("triton-deck", "classify"), url="http://client"),
        _job(JobState.RUNNING, minute=2, url="http://b"),
        _job(JobState.DONE, minute=4, url="http://done"),
    ]
    assert [job.url for job in serving_jobs(jobs)] == ["http://b", "http://a", "http://client"]


def test_image_client_reads_densenet_as_documented() -> None:
    model = parse_image_model(DENSENET_METADATA, DENSENET_CONFIG)
    assert (model.channels, model.height, model.width, model.layout, model.supports_batching) == (3, 224, 224, "FORMAT_NCHW", False)
    with pytest.raises(UserError, match="doesn't support batching"):
        check_batch_size(model, 2)


def test_nhwc_and_batching_models_read_their_dims_in_order() -> None:
    metadata = {**DENSENET_METADATA, "inputs": [{"name": "x", "datatype": "UINT8", "shape": [-1, "299", "300", "1"]}]}
    metadata["outputs"] = [{"name": "y", "datatype": "FP32", "shape": [-1, 1001]}]
    model = parse_image_model(metadata, {"max_batch_size": 4, "input": [{"format": "FORMAT_NHWC"}]})
    assert (model.channels, model.height, model.width, model.datatype) == (1, 299, 300, "UINT8")
    with pytest.raises(UserError, match="above model 'densenet_onnx' max_batch_size 4"):
        check_batch_size(model, 5)


@pytest.mark.parametrize(
    ("metadata_change", "config_change", "fragment"),
    [
        ({"inputs": []}, {}, "expecting 1 input, got 0"),
        ({"outputs": [{"name": "a", "datatype": "FP32", "shape": [1]}] * 2}, {}, "expecting 1 output, got 2"),
        ({"outputs": [{"name": "a", "datatype": "INT32", "shape": [1000]}]}, {}, "output type is INT32"),
        ({"outputs": [{"name": "a", "datatype": "FP32", "shape": [10, 10]}]}, {}, "expecting model output to be a vector"),
        ({"inputs": [{"name": "x", "datatype": "FP32", "shape": [224, 224]}]}, {}, "expecting input to have 3 dimensions, model 'densenet_onnx' input has 2"),
        ({}, {"input": [{"name": "data_0", "dims": [3, 224, 224]}]}, "unexpected input format FORMAT_NONE"),
    ],
)
def test_models_image_client_rejects_are_rejected_with_its_reason(metadata_change: dict, config_change: dict, fragment: str) -> None:
    with pytest.raises(UserError, match=fragment):
        parse_image_model({**DENSENET_METADATA, **metadata_change}, {**DENSENET_CONFIG, **config_change})


def test_batches_fill_the_last_one_by_cycling_like_image_client() -> None:
    a, b, c = Path("a"), Path("b"), Path("c")
    assert plan_batches([a, b, c], 2) == [[a, b], [c, a]]
    assert plan_batches([a], 3) == [[a, a, a]]
    assert plan_batches([a, b, c], 1) == [[a], [b], [c]]


def test_classification_strings_print_as_image_client_does() -> None:
    assert Classification.parse("15.346230:504:COFFEE MUG").image_client_line() == "    15.346230 (504) = COFFEE MUG"
    assert Classification.parse("1.5:7:a: b").label == "a: b"
    assert Classification.parse("15.346230:504").image_client_line() == "    15.346230 (504)"


@pytest.mark.parametrize("transport", list(Transport))
def test_a_server_that_never_answers_times_out_with_one_line(transport: Transport) -> None:
    import socket
    import time

    from services.inference.protocol import Endpoint
    from services.inference.triton import TritonInferenceClient

    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(UserError) as failure:
            TritonInferenceClient(Endpoint(url, transport, timeout_s=1.0)).health()
        assert time.monotonic() - started < 20
    assert failure.value.message == f"{parse_address(url, transport).display} did not answer within 1 s: check the URL and that the server is up"
