"""The inference pane on fakes: server discovery, model choice, settings, images, answers."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Input, Static

from services.backends import ServiceSet
from services.config import Profile
from services.demo import SAMPLES_DIR
from services.fake_set import SAMPLE_ANSWERS, SAMPLE_MODELS, fake_services
from services.inference.fake import FakeInferenceClient
from services.inference.protocol import ClassifyRequest, Endpoint
from tests.conftest import SNAPSHOT_NOW, deck_config, plain_text, settle
from tests.helpers import press_in_panel
from tui.app import TritonDeck, make_app
from tui.panels.inference import InferencePanel
from tui.settings import AppSettings
from widgets.classification_card import ClassificationCard


class RecordingClient(FakeInferenceClient):
    """The fake, remembering every endpoint it was opened on and every request it answered."""

    endpoints: list[Endpoint] = []
    requests: list[ClassifyRequest] = []

    def classify(self, request: ClassifyRequest):  # type: ignore[no-untyped-def]
        RecordingClient.requests.append(request)
        return super().classify(request)


def recording_app(failure_for: str | None = None, failure_text: str = "nothing listens on 10.0.0.9:8000") -> TritonDeck:
    RecordingClient.endpoints, RecordingClient.requests = [], []

    def services(profile: Profile) -> ServiceSet:
        base = fake_services(profile)

        def open_client(endpoint: Endpoint) -> FakeInferenceClient:
            RecordingClient.endpoints.append(endpoint)
            failure = failure_text if failure_for and failure_for in endpoint.url else None
            return RecordingClient(endpoint, SAMPLE_ANSWERS, SAMPLE_MODELS, failure=failure)

        base.inference = open_client
        return base

    return make_app("local", deck_config(), services, AppSettings(now=lambda: SNAPSHOT_NOW, poll=False), env={})


def text_of(pilot: Pilot[None], selector: str) -> str:
    return plain_text(pilot.app.query_one(selector, Static))


def cards(pilot: Pilot[None]) -> list[str]:
    return [" ".join(plain_text(s) for s in card.query(Static)) for card in pilot.app.query(ClassificationCard)]


async def test_the_pane_finds_the_running_server_job_and_classifies_the_samples() -> None:
    app = recording_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        assert RecordingClient.endpoints[0].url.endswith(".job.gra.ai.cloud.ovh.net")
        assert "job triton-server" in text_of(pilot, "#server-box")
        assert "efficientnet_lite0" in text_of(pilot, "#classify-box") and "in input FP32 [-1,3,224,224]" in text_of(pilot, "#classify-box")
        await pilot.press("c")
        await settle(pilot)
        (request,) = RecordingClient.requests
        assert request.images == tuple(sorted(p for p in SAMPLES_DIR.iterdir())) and request.top_k == 3 and request.scaling.value == "INCEPTION"
        shown = cards(pilot)
        assert len(shown) == 3
        assert "chelsea.png" in shown[0] and "Egyptian Mau" in shown[0] and "10.530498" in shown[0]
        assert "coffee.png" in shown[1] and "espresso" in shown[1] and "(967)" in shown[1]
        assert "not an image file" in shown[2]
        assert all(card.query(".thumbnail") for card in app.query(ClassificationCard)), "each sample shows its thumbnail"
        assert text_of(pilot, "#classify-status").startswith("2 answered, 1 failed")


async def test_settings_keys_reach_the_request() -> None:
    app = recording_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("s", "minus", "minus", "minus", "i")  # INCEPTION → VGG; top-k floors at 1; gRPC
        await settle(pilot)
        assert RecordingClient.endpoints[-1].transport.value == "grpc"
        await pilot.press("c")
        await settle(pilot)
        (request,) = RecordingClient.requests
        assert (request.scaling.value, request.top_k) == ("VGG", 1)
        answered = [shown for shown in cards(pilot) if "not an image" not in shown]
        assert len(answered) == 2 and all(shown.count(") ") == 1 for shown in answered), answered


async def test_enter_on_a_model_picks_it_for_classification() -> None:
    app = recording_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        app.query_one("#models-table").focus()
        await pilot.press("down", "enter")  # densenet_onnx (UNAVAILABLE), then efficientnet_lite0, then simple
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert "simple" in text_of(pilot, "#classify-box")


async def test_a_typed_url_is_checked_and_a_failure_names_the_layer() -> None:
    app = recording_app(failure_for="10.0.0.9")
    async with app.run_test(size=(120, 40)) as pilot:
        await press_in_panel(pilot, "4", "e")
        prompt = app.screen.query_one(Input)
        prompt.value = "10.0.0.9:8000"
        await pilot.press("enter")
        await settle(pilot)
        assert RecordingClient.endpoints[-1].url == "10.0.0.9:8000"
        server = text_of(pilot, "#server-box")
        assert "http://10.0.0.9:8000" in server and "typed URL" in server and "nothing listens on 10.0.0.9:8000" in server
        assert app.query_one("#models-table").row_count == 0  # type: ignore[attr-defined]


async def test_a_long_diagnosis_wraps_whole_at_80_columns() -> None:
    reason = "10.0.0.9:8000 answered HTTP 502 Bad Gateway: a proxy is in the way; check the URL, or ask for the job's own URL with `triton-deck job get ID`"
    app = recording_app(failure_for="10.0.0.9", failure_text=reason)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_in_panel(pilot, "4", "e")
        app.screen.query_one(Input).value = "10.0.0.9:8000"
        await pilot.press("enter")
        await settle(pilot)
        box = app.query_one("#server-box", Static)
        console = Console(width=box.content_region.width, record=True, file=io.StringIO())
        console.print(box.content)
        lines = [line for line in console.export_text().splitlines() if line.strip()]
        assert len(lines) >= 3 and lines[-1].strip() == "job get ID`", "wrapped: the end of the reason is on screen"
        assert lines[1].startswith("problem   10.0.0.9:8000 answered HTTP 502 Bad Gateway")


async def test_a_typed_url_stays_as_typed_when_grpc_is_on() -> None:
    app = recording_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("i", "e")
        await pilot.pause()
        app.screen.query_one(Input).value = "http://127.0.0.1:9"
        await pilot.press("enter")
        await settle(pilot)
        server = text_of(pilot, "#server-box")
        assert "http://127.0.0.1:9  typed URL · gRPC to 127.0.0.1:9" in server and "grpc://" not in server
        await pilot.press("e")
        await pilot.pause()
        assert app.screen.query_one(Input).value == "http://127.0.0.1:9", "offered again as typed"


async def test_the_image_picker_takes_a_typed_path_or_the_samples(tmp_path: Path) -> None:
    photo = tmp_path / "coffee.png"
    photo.write_bytes((SAMPLES_DIR / "coffee.png").read_bytes())
    app = recording_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await press_in_panel(pilot, "4", "o")
        box = app.screen.query_one("#pick-path", Input)
        box.value = str(tmp_path / "missing.png")
        box.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.query_one("#pick-path", Input), "a path that does not exist keeps the picker open"
        box.value = str(photo)
        await pilot.press("enter")
        await pilot.pause()
        assert str(photo) in text_of(pilot, "#classify-box")
        await pilot.press("c")
        await settle(pilot)
        assert RecordingClient.requests[-1].images == (photo,)
        assert len(cards(pilot)) == 1 and "espresso" in cards(pilot)[0]
        await pilot.press("o")
        await pilot.pause()
        app.screen.query_one("#pick-tree").focus()
        await pilot.press("s")
        await pilot.pause()
        assert "shipped samples" in text_of(pilot, "#classify-box")
        assert isinstance(app.query_one(InferencePanel), InferencePanel)


async def test_results_scroll_with_j_and_k_and_the_summary_goes_when_the_model_changes() -> None:
    app = recording_app()
    async with app.run_test(size=(60, 20)) as pilot:  # at 80x24 every answer fits now
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert text_of(pilot, "#classify-status").startswith("2 answered, 1 failed")
        results = app.query_one("#results")
        results.focus()
        await pilot.press("j", "j", "j")
        await pilot.pause()
        assert results.scroll_y > 0
        await pilot.press("k", "k", "k")
        await pilot.pause()
        assert results.scroll_y == 0
        app.query_one("#models-table").focus()
        await pilot.press("down", "down", "enter")  # simple
        await settle(pilot)
        assert text_of(pilot, "#classify-status").startswith("c classifies the images"), "no summary of another model's run"


async def test_the_top3_of_an_image_reads_at_60x20_80x24_and_120x40() -> None:
    """The pane the product exists to show: after `c` the first image's three labels, scores and
    bars are on screen with the server line, without scrolling (compact below 30 rows)."""
    import re

    for size in ((60, 20), (80, 24), (120, 40)):
        app = recording_app()
        async with app.run_test(size=size) as pilot:
            await pilot.press("4")
            await settle(pilot)
            await pilot.press("c")
            await settle(pilot)
            screen = re.sub(r"<[^>]+>", "", app.export_screenshot()).replace("&#160;", " ")
            for shown in ("Egyptian Mau", "tiger cat", "tabby cat", "10.530498", "8.103220", "████████████", "live", "ready"):
                assert shown in screen, (size, shown)
            compact = size[1] < 30
            assert app.query_one("#server-box").has_class("-line") is compact
            assert all(not card.query_one(".thumbnail").display for card in app.query(ClassificationCard) if card.query(".thumbnail")) is compact
