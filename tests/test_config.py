"""Config file and profiles: 0600 atomic writes, masking, and where secrets come from."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from services import locations
from services.backends import describe_profile
from services.config import (
    Config,
    Profile,
    ProfileKind,
    load_config,
    resolve_s3_credentials,
    resolve_token,
    save_config,
    select_profile_name,
)
from services.errors import UserError
from services.secrets import MASK, Secret, redact

TOKEN = "tok-1234567890abcdef"


def ovh_profile(**fields: object) -> Profile:
    return Profile(name="gra", kind=ProfileKind.OVHCLOUD, region="GRA", **fields)  # type: ignore[arg-type]


def test_config_file_follows_xdg_config_home(tmp_path: Path) -> None:
    assert locations.config_file() == tmp_path / "config" / "triton-deck" / "config.toml"


def test_missing_file_means_local_profile_only() -> None:
    config = load_config()
    assert list(config.profiles) == ["local"]
    assert config.active_profile == "local"


def test_saved_file_is_0600_in_a_0700_directory_and_round_trips() -> None:
    config = Config().with_profile(ovh_profile(token=Secret(TOKEN), aws_profile="ovh")).with_active("gra").with_log_view(times=False, wrap=True)
    path = save_config(config)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"], "no temporary file left behind"
    loaded = load_config()
    assert loaded.active_profile == "gra"
    assert loaded.profile("gra").token == Secret(TOKEN)
    assert loaded.profile("gra").aws_profile == "ovh"
    assert (loaded.log_times, loaded.log_wrap) == (False, True)


def test_overwrite_keeps_0600_even_if_the_old_file_was_loose() -> None:
    path = save_config(Config())
    path.chmod(0o644)
    save_config(Config().with_profile(ovh_profile()))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_failed_write_leaves_the_previous_config_intact(monkeypatch: pytest.MonkeyPatch) -> None:
    path = save_config(Config().with_profile(ovh_profile()))
    before = path.read_text()

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("services.shared_file.os.fsync", broken_fsync)
    with pytest.raises(OSError):
        save_config(Config())
    assert path.read_text() == before
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]


def test_secrets_are_masked_in_str_repr_format_and_dataclass_repr() -> None:
    profile = ovh_profile(token=Secret(TOKEN), s3_secret_key=Secret("s3-secret-value"))
    for text in (str(profile.token), repr(profile.token), f"{profile.token}", repr(profile), str(profile)):
        assert TOKEN not in text
        assert "s3-secret-value" not in text
    assert profile.token is not None and profile.token.reveal() == TOKEN


def test_redact_scrubs_known_secrets_from_any_text() -> None:
    Secret("another-secret-42")
    assert redact("401 for Bearer another-secret-42 at host") == f"401 for Bearer {MASK} at host"


def test_token_precedence_env_then_command_then_file() -> None:
    command = f"{sys.executable} -c \"print('from-command-token')\""
    profile = ovh_profile(token=Secret("from-file-token"), token_command=command)
    from_env = resolve_token(profile, {"OVHAI_TOKEN": "from-env-token"})
    assert from_env is not None and (from_env.value.reveal(), from_env.source) == ("from-env-token", "env OVHAI_TOKEN")
    from_command = resolve_token(profile, {})
    assert from_command is not None and from_command.value.reveal() == "from-command-token"
    from_file = resolve_token(ovh_profile(token=Secret("from-file-token")), {})
    assert from_file is not None and (from_file.value.reveal(), from_file.source) == ("from-file-token", "config file")
    assert resolve_token(ovh_profile(), {}) is None
    assert resolve_token(Profile(name="local"), {"OVHAI_TOKEN": "x"}) is None


def test_failing_token_command_says_so_without_quoting_its_output() -> None:
    command = f"{sys.executable} -c \"import sys; print('leaked-half-token'); sys.exit(3)\""
    with pytest.raises(UserError) as caught:
        resolve_token(ovh_profile(token_command=command), {})
    assert "status 3" in str(caught.value)
    assert "leaked-half-token" not in str(caught.value)


def test_s3_credentials_env_then_profile_then_shared_file(tmp_path: Path) -> None:
    shared = tmp_path / "aws-credentials"
    shared.write_text("[ovh]\naws_access_key_id = FILEKEY\naws_secret_access_key = FILESECRET\n")
    profile = ovh_profile(s3_access_key=Secret("PROFKEY"), s3_secret_key=Secret("PROFSECRET"), aws_profile="ovh")
    env = {"AWS_ACCESS_KEY_ID": "ENVKEY", "AWS_SECRET_ACCESS_KEY": "ENVSECRET", "AWS_SHARED_CREDENTIALS_FILE": str(shared)}
    chosen = resolve_s3_credentials(profile, env)
    assert chosen is not None and chosen.access_key.reveal() == "ENVKEY"
    chosen = resolve_s3_credentials(profile, {"AWS_SHARED_CREDENTIALS_FILE": str(shared)})
    assert chosen is not None and chosen.secret_key.reveal() == "PROFSECRET"
    chosen = resolve_s3_credentials(ovh_profile(aws_profile="ovh"), {"AWS_SHARED_CREDENTIALS_FILE": str(shared)})
    assert chosen is not None and chosen.access_key.reveal() == "FILEKEY" and "[ovh]" in chosen.source
    by_env_profile = resolve_s3_credentials(ovh_profile(), {"AWS_PROFILE": "ovh", "AWS_SHARED_CREDENTIALS_FILE": str(shared)})
    assert by_env_profile is not None and by_env_profile.secret_key.reveal() == "FILESECRET"
    assert resolve_s3_credentials(ovh_profile(), {"AWS_SHARED_CREDENTIALS_FILE": str(shared)}) is None


def test_default_shared_credentials_file_is_under_home(isolated_environment: Path) -> None:
    aws = isolated_environment / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text("[default]\naws_access_key_id = HOMEKEY\naws_secret_access_key = HOMESECRET\n")
    chosen = resolve_s3_credentials(ovh_profile(), {})
    assert chosen is not None and chosen.access_key.reveal() == "HOMEKEY"


def test_profile_selection_flag_then_env_then_file() -> None:
    config = Config().with_profile(ovh_profile()).with_active("gra")
    assert select_profile_name(config, "local", {"TRITON_DECK_PROFILE": "gra"}) == "local"
    assert select_profile_name(config, None, {"TRITON_DECK_PROFILE": "local"}) == "local"
    assert select_profile_name(config, None, {}) == "gra"
    assert select_profile_name(Config(), None, {}) == "local"


def test_describe_profile_masks_and_names_sources() -> None:
    rows = dict(describe_profile(ovh_profile(token=Secret(TOKEN)), {}))
    assert rows["token"] == f"{MASK} (config file)"
    assert TOKEN not in str(rows)
    env_rows = dict(describe_profile(ovh_profile(), {"OVHAI_TOKEN": TOKEN}))
    assert env_rows["token"] == f"{MASK} (env OVHAI_TOKEN)"
    assert dict(describe_profile(ovh_profile(token_command="pass show x"), {}))["token"] == "from command `pass show x`"
    assert rows["api"] == "https://gra.ai.cloud.ovh.net/v1"
    assert rows["s3 endpoint"] == "https://s3.gra.io.cloud.ovh.net"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("active_profile = [", "not valid TOML"),
        ('[profiles.gra]\nkind = "cloud"\n', "must be 'local' or 'ovhcloud'"),
        ('[profiles.gra]\nregion = "XYZ"\n', "unknown AI Training region 'XYZ'"),
        ('[profiles.gra]\ntokn = "x"\n', "unknown key 'tokn'"),
        ('[profiles."bad name"]\n', "invalid profile name"),
        ('log_wrap = "yes"\n', "log_times and log_wrap must be true or false"),
    ],
)
def test_bad_config_is_one_clear_line(text: str, fragment: str) -> None:
    path = locations.config_file()
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with pytest.raises(UserError) as caught:
        load_config()
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(UserError, match="unknown profile 'prod': use one of local"):
        Config().profile("prod")
