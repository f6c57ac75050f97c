"""The CLI: exit codes, one-line errors, profiles, secrets kept off the output."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from services import locations
from tests.helpers import run
from tui.cli import main

TOKEN = "cli-token-abcdef123456"


def test_version_and_help_exit_zero(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--version"], ["--help"], ["profile", "--help"], ["bucket", "--help"], ["image", "dockerfile", "--help"]):
        with pytest.raises(SystemExit) as exited:
            main(argv, env={})
        assert exited.value.code == 0
    assert "triton-deck 0.1.0" in capsys.readouterr().out


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["no-such-command"], env={})
    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_profile_add_list_show_use(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(["profile", "add", "gra", "--region", "gra", "--token-stdin", "--aws-profile", "ovh"], stdin=TOKEN + "\n")
    assert code == 0 and "profile gra saved" in out
    path = locations.config_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    code, out = run(["profile", "list"])
    assert code == 0
    assert out.splitlines()[1:] == ["  gra                  ovhcloud  GRA", "* local                local     LOCAL"]

    code, out = run(["profile", "show", "gra", "-o", "json"])
    shown = json.loads(out)
    assert shown["token"] == "**** (config file)" and shown["region"] == "GRA"
    assert TOKEN not in out

    code, out = run(["profile", "use", "gra"])
    assert code == 0
    code, out = run(["profile", "list", "-o", "json"])
    assert [p["name"] for p in json.loads(out) if p["active"]] == ["gra"]
    code, out = run(["profile", "list", "-o", "json", "--profile", "local"])
    assert [p["name"] for p in json.loads(out) if p["active"]] == ["local"]
    code, out = run(["profile", "list", "-o", "json"], env={"TRITON_DECK_PROFILE": "local"})
    assert [p["name"] for p in json.loads(out) if p["active"]] == ["local"]
    assert TOKEN not in capsys.readouterr().err


def test_profile_add_refuses_duplicates_and_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["profile", "add", "gra"])[0] == 0
    assert run(["profile", "add", "gra"])[0] == 1
    assert "already exists: add --replace" in capsys.readouterr().err
    assert run(["profile", "add", "gra", "--replace", "--region", "BHS"])[0] == 0
    assert run(["profile", "add", "x", "--region", "MARS"])[0] == 1
    assert run(["profile", "add", "local"])[0] == 1
    assert run(["profile", "use", "nope"])[0] == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "triton-deck: unknown AI Training region 'MARS': use one of GRA, BHS (or set api_url for another endpoint)",
        "triton-deck: the local profile is built in and needs no settings: pick another name",
        "triton-deck: unknown profile 'nope': use one of gra, local, or add it with `triton-deck profile add nope`",
    ]


def test_image_dockerfile_to_stdout_and_file(tmp_path: Path) -> None:
    code, out = run(["image", "dockerfile", "--client", "--version", "24.01"])
    assert code == 0
    assert out.splitlines() == [
        "FROM nvcr.io/nvidia/tritonserver:24.01-py3-sdk",
        "WORKDIR /workspace",
        "COPY . /workspace",
        "RUN chown -R 42420:42420 /workspace",
        "ENV HOME=/workspace",
    ]
    target = tmp_path / "context"
    target.mkdir()
    code, out = run(["image", "dockerfile", "-o", str(target)])
    assert code == 0
    assert (target / "Dockerfile").read_text().startswith("FROM nvcr.io/nvidia/tritonserver:23.03-py3\n")
    assert sorted(p.name for p in target.iterdir()) == ["Dockerfile"]


def test_bad_version_and_unwritable_target_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["image", "dockerfile", "--version", "latest"])[0] == 1
    assert run(["image", "dockerfile", "-o", str(tmp_path / "missing" / "Dockerfile")])[0] == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("triton-deck: invalid Triton version 'latest'")
    assert err[1].startswith("triton-deck: cannot write") and "pick a writable path" in err[1]


def test_debug_adds_a_redacted_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    path = locations.config_file()
    path.parent.mkdir(parents=True)
    path.write_text("active_profile = [")
    assert run(["profile", "list"])[0] == 1
    assert len(capsys.readouterr().err.splitlines()) == 1
    assert run(["profile", "list", "--debug"])[0] == 1
    assert "Traceback" in capsys.readouterr().err


def test_console_script_runs_as_a_process() -> None:
    """The installed entry point, in a real process, with the real environment handling."""
    env = {**os.environ, "TRITON_DECK_PROFILE": "nope"}
    result = subprocess.run([sys.executable, "-m", "tui", "profile", "show"], capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "triton-deck: unknown profile 'nope': use one of local, or add it with `triton-deck profile add nope`"


def test_cli_commands_run_on_injected_fakes() -> None:
    """The CLI opens services through a factory, as the app does: any command can run on fakes."""
    from services.fake_set import fake_services

    out = io.StringIO()
    assert main(["job", "list"], env={}, out=out, open_services=lambda profile, _env: fake_services(profile)) == 0
    assert "triton-server" in out.getvalue() or "RUNNING" in out.getvalue()
    out = io.StringIO()
    assert main(["bucket", "object", "list", "my-models@LOCAL"], env={}, out=out, open_services=lambda profile, _env: fake_services(profile)) == 0
    assert "efficientnet_lite0/1/model.onnx" in out.getvalue()


def leaf_commands() -> list[tuple[list[str], list[str]]]:
    """Every command path of the CLI (`job list`, `bucket object upload`, ...) with arguments
    that satisfy it, from the parser itself: a new command is covered without listing it."""
    import argparse

    from tui.cli import build_parser

    def satisfying(parser: argparse.ArgumentParser) -> list[str]:
        words: list[str] = []
        for action in parser._actions:
            sample = str(action.choices[0] if isinstance(action.choices, list) else "7" if action.type is int else "x")
            if not action.option_strings and action.nargs in (None, "+", 1):
                words.append(sample)
            elif action.option_strings and action.required:
                words += [action.option_strings[0], sample]
        return words

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> list[tuple[list[str], list[str]]]:
        found = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    found += walk(child, [*path, name])
        return found or [(path, satisfying(parser))]

    return walk(build_parser(), [])


def test_global_options_count_before_and_after_every_subcommand() -> None:
    from tui.cli import parse

    commands = leaf_commands()
    assert (["job", "list"], []) in commands and len(commands) > 25
    for path, rest in commands:
        assert parse(["--profile", "gra", "--debug", *path, *rest]).profile == "gra", path
        after = parse([*path, "--profile", "gra", "--debug", *rest])
        assert after.profile == "gra" and after.debug, path
        assert not parse([*path, *rest]).debug and parse([*path, *rest]).profile is None, path


def test_a_profile_given_before_the_command_is_the_one_used(capsys: pytest.CaptureFixture[str]) -> None:
    """`--profile prod job delete ...` must never act on the saved default instead."""
    for argv in (["--profile", "nosuch", "job", "list"], ["job", "list", "--profile", "nosuch"]):
        assert main(argv, env={}, out=io.StringIO()) == 1
        assert "nosuch" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["job", "run", "ubuntu", "--gpu", "1", "--", "echo", "hi"],  # OVHcloud's CLI guide's order
        ["job", "run", "--gpu", "1", "ubuntu", "--", "echo", "hi"],
        ["job", "run", "ubuntu", "--", "echo", "hi"],
    ],
)
def test_job_run_takes_options_before_or_after_the_image_and_the_command_after_dashes(argv: list[str]) -> None:
    from services.fake_set import fake_services

    services = {}

    def opener(profile, env):  # type: ignore[no-untyped-def]
        services["set"] = fake_services(profile)
        return services["set"]

    assert main(argv, env={}, out=io.StringIO(), open_services=opener) == 0
    job = services["set"].job_platform.list()[0]
    assert (job.spec.image, job.spec.command, job.spec.gpu) == ("ubuntu", ("echo", "hi"), 1)


def test_a_command_without_dashes_is_refused_with_the_fix(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["job", "run", "ubuntu", "echo", "hi"], env={}, out=io.StringIO())
    assert exited.value.code == 2
    assert "a job's command goes after --: `triton-deck job run IMAGE -- echo hi`" in capsys.readouterr().err


def fake_opener():  # type: ignore[no-untyped-def]
    """An opener that keeps the fake set it made, to look at what a command did."""
    from services.fake_set import fake_services

    made = {}

    def opener(profile, env):  # type: ignore[no-untyped-def]
        made.setdefault("set", fake_services(profile))
        return made["set"]

    return opener, made


def test_gpu_and_cpu_together_run_a_gpu_job_and_say_so(capsys: pytest.CaptureFixture[str]) -> None:
    opener, made = fake_opener()
    assert main(["job", "run", "--gpu", "2", "--cpu", "4", "img"], env={}, out=io.StringIO(), open_services=opener) == 0
    job = made["set"].job_platform.list()[0]
    assert (job.spec.gpu, job.spec.cpu) == (2, None)
    assert "the job takes 2 GPU(s) and --cpu is ignored" in capsys.readouterr().err


def test_job_ids_by_unique_prefix_and_list_filters(capsys: pytest.CaptureFixture[str]) -> None:
    opener, made = fake_opener()
    out = io.StringIO()
    assert main(["job", "list", "-q", "--state", "running"], env={}, out=out, open_services=opener) == 0
    [running] = out.getvalue().split()
    out = io.StringIO()
    assert main(["job", "get", running[:9]], env={}, out=out, open_services=opener) == 0
    assert out.getvalue().startswith(f"id     {running}")
    assert main(["job", "get", "0000"], env={}, out=io.StringIO(), open_services=opener) == 1
    err = capsys.readouterr().err
    assert "'0000' matches" in err and "type more of the id" in err and err.count("\n") == 1
    assert main(["job", "stop", "ffff"], env={}, out=io.StringIO(), open_services=opener) == 1
    assert "no job id starts with 'ffff'" in capsys.readouterr().err
    assert main(["job", "list", "--state", "RUNING"], env={}, out=io.StringIO(), open_services=opener) == 1
    assert "--state RUNING is not a job state" in capsys.readouterr().err


def test_unknown_states_and_missing_optional_fields_never_break_a_listing() -> None:
    from services.jobs.document import job_from_document
    from services.jobs.protocol import JobState

    job = job_from_document({"id": "j1", "spec": {"image": "img"}, "status": {"state": "STOPPING", "history": [{"state": "QUEUED"}]}})
    assert job.state.value == "STOPPING" and not job.state.is_terminal and not job.state.is_starting
    assert job.state is not JobState.RUNNING and job.history[0].state is JobState.QUEUED
    bare = job_from_document({"id": "j2"})
    assert bare.state.value == "UNKNOWN" and bare.created_at.year == 1970


def test_a_triton_release_is_a_year_and_a_month(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["image", "dockerfile", "--version", "24.13"])[0] == 1
    assert "invalid Triton version '24.13'" in capsys.readouterr().err
    code, out = run(["image", "dockerfile", "--version", "24.12"])
    assert code == 0 and out.startswith("FROM nvcr.io/nvidia/tritonserver:24.12-py3")


def test_a_mistyped_command_or_choice_names_the_closest_one(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, close in ((["jbo", "list"], "job"), (["job", "lsit"], "list"), (["bucket", "object", "uplaod"], "upload")):
        with pytest.raises(SystemExit) as exited:
            main(argv, env={}, out=io.StringIO())
        assert exited.value.code == 2
        assert capsys.readouterr().err.strip().endswith(f"did you mean '{close}'?"), argv
    with pytest.raises(SystemExit):
        main(["zzzzzz"], env={}, out=io.StringIO())
    assert "did you mean" not in capsys.readouterr().err


def test_a_command_whose_own_flags_collide_with_run_options_says_where_it_goes(capsys: pytest.CaptureFixture[str]) -> None:
    """`bash -c '...'` without `--` reads `-c` as --cpu: the error says the command goes after --."""
    for kind in ("job", "app"):
        with pytest.raises(SystemExit) as exited:
            main([kind, "run", "img", "bash", "-c", "echo hi"], env={}, out=io.StringIO())
        assert exited.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert "invalid int value: 'echo hi'" in err and f"{kind}'s command goes after --" in err
    with pytest.raises(SystemExit):
        main(["job", "run", "--cpu", "x", "img", "--", "bash", "-c", "echo hi"], env={}, out=io.StringIO())
    assert "goes after --" not in capsys.readouterr().err


def test_a_job_or_app_is_found_by_its_name_and_a_shared_name_asks_for_the_id(capsys: pytest.CaptureFixture[str]) -> None:
    opener, made = fake_opener()
    out = io.StringIO()
    assert main(["job", "get", "triton-server"], env={}, out=out, open_services=opener) == 0
    assert out.getvalue().startswith("id     00000003-7a1e-4c2b-9d3f-000000000003")
    out = io.StringIO()
    assert main(["app", "get", "triton-queue", "-o", "json"], env={}, out=out, open_services=opener) == 0
    assert json.loads(out.getvalue())["id"] == "00000002-a99d-4c2b-9d3f-000000000002"
    assert main(["job", "run", "--name", "triton-server", "img"], env={}, out=io.StringIO(), open_services=opener) == 0
    assert main(["job", "get", "triton-server"], env={}, out=io.StringIO(), open_services=opener) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "2 jobs are named 'triton-server' (" in err and "00000003" in err and err.endswith("give the id")
    assert main(["job", "get", "nosuch"], env={}, out=io.StringIO(), open_services=opener) == 1
    assert "none is named so" in capsys.readouterr().err


def test_job_list_columns_stay_aligned_with_a_long_image_name() -> None:
    opener, made = fake_opener()
    long_image = "registry.example.com/" + "team/" * 12 + "server:1"
    assert main(["job", "run", "--name", "x", long_image], env={}, out=io.StringIO(), open_services=opener) == 0
    out = io.StringIO()
    assert main(["job", "list"], env={}, out=out, open_services=opener) == 0
    header, *rows = out.getvalue().splitlines()
    assert len(rows) == 5
    assert any(long_image in row for row in rows)
    assert {row[header.index("JOB_URL") :][:8] for row in rows} == {"https://"}
    assert {row[header.index("STATE") :].split()[0] for row in rows} <= {"QUEUED", "RUNNING", "FAILED", "DONE"}


def test_profile_add_takes_the_chosen_kinds_settings(capsys: pytest.CaptureFixture[str]) -> None:
    """`--kind` picks the profile's kind; a setting of another kind is one line naming it."""
    assert run(["profile", "add", "lab", "--kind", "local"])[0] == 0
    code, out = run(["profile", "show", "lab", "-o", "json"])
    assert code == 0 and json.loads(out)["kind"] == "local"
    capsys.readouterr()
    for words, message in (
        (["--kind", "local", "--api-url", "http://127.0.0.1:1/v1"], "--api-url is not a setting of local profiles: drop it, or add --kind ovhcloud"),
        (["--kind", "local", "--region", "GRA"], "a local profile takes no region, token or S3 keys"),
    ):
        assert run(["profile", "add", "other", *words])[0] == 1
        error = capsys.readouterr().err.strip()
        assert message in error and "\n" not in error, error
    assert run(["profile", "add", "gra2", "--token-command", "echo t"])[0] == 0  # ovhcloud stays the default kind
    code, out = run(["profile", "show", "gra2", "-o", "json"])
    assert json.loads(out)["kind"] == "ovhcloud" and json.loads(out)["region"] == "GRA"
