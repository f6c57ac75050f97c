"""`a` on the profile screen: a profile from a form, as `triton-deck profile add` saves it.

The kind comes first (`ctrl+t` goes through the kinds of the backend registry); the fields
shown are that kind's options from the registry, then, for a kind that takes credentials,
the secrets, typed hidden: a token or S3 secret never shows on screen, in the preview of
the equivalent command or in a snapshot. The first refused field is marked, as on the run forms.
"""

from __future__ import annotations

from collections.abc import Mapping

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Input, Static

from services.backends import KINDS
from services.config import Profile, ProfileKind
from services.errors import FieldError, UserError
from services.secrets import Secret
from services.usecases.profiles import ProfileDraft, new_profile, profile_add_command, save_profile
from tui.screens.run_form import RunForm

OPTION_LABELS = {"api_url": "API URL", "token_command": "token command", "s3_endpoint": "S3 endpoint", "s3_region": "S3 region", "aws_profile": "AWS profile", "registry": "registry"}
HINTS = {
    "kind": "ovhcloud or local (ctrl+t)",
    "name": "(empty) e.g. gra",
    "api_url": "(empty) default: https://<region>.ai.cloud.ovh.net/v1",
    "token_command": "(empty) e.g. pass show ovh/ai-token",
    "s3_endpoint": "(empty) default: https://s3.<region>.io.cloud.ovh.net",
    "s3_region": "(empty) default: the region, lowercase",
    "aws_profile": "(empty) e.g. ovh, a profile of ~/.aws/credentials",
    "registry": "(empty) default: the shared registry from the API",
    "token": "(empty) or a token command above, or $OVHAI_TOKEN",
    "s3_access_key": "(empty) or an AWS profile above",
    "s3_secret_key": "(empty) with the access key",
}
SECRETS = (("token", "AI token"), ("s3_access_key", "S3 access key"), ("s3_secret_key", "S3 secret key"))
OPTIONS = tuple(dict.fromkeys(option.key for kind in KINDS.values() for option in kind.options))  # every kind's, in the registry's order
FIELDS = (("kind", "kind"), ("name", "name"), ("region", "region"), *((key, OPTION_LABELS.get(key, key)) for key in OPTIONS), *SECRETS)
KIND_NAMES = tuple(kind.value for kind in KINDS)


def kind_of(values: Mapping[str, str]) -> ProfileKind:
    typed = values.get("kind", "").strip().lower() or ProfileKind.OVHCLOUD.value
    if typed not in KIND_NAMES:
        raise FieldError("kind", f"kind '{typed}' is not one of {', '.join(KIND_NAMES)} (ctrl+t goes through them)")
    return ProfileKind(typed)


def shown_fields(kind: ProfileKind) -> frozenset[str]:
    """The fields a kind takes: its registry options; region and secrets where it has options (credentials)."""
    options = {option.key for option in KINDS[kind].options}
    return frozenset({"kind", "name", *options, *(("region", *(key for key, _label in SECRETS)) if options else ())})


def profile_from_fields(values: Mapping[str, str], taken: frozenset[str]) -> Profile:
    """The form as a Profile, or a `FieldError` naming the first bad field."""
    if values["name"].strip() in taken:
        raise FieldError("name", f"profile '{values['name'].strip()}' already exists: pick another name")
    kind = kind_of(values)
    shown = shown_fields(kind)
    secret = {key: Secret(values[key].strip()) if key in shown and values[key].strip() else None for key, _label in SECRETS}
    options = {option.key: values[option.key] for option in KINDS[kind].options}
    region = values["region"] if "region" in shown else "LOCAL"
    return new_profile(ProfileDraft(values["name"], region, options, secret["token"], secret["s3_access_key"], secret["s3_secret_key"], kind))


class ProfileAddScreen(RunForm[Profile]):
    """Saves the profile, then dismisses with it; or dismisses with None."""

    BINDINGS = [Binding("ctrl+s", "run", "Save"), Binding("ctrl+t", "next_kind", "Kind")]
    prefix = "profile"
    preview_hint = "(fix the fields to see the triton-deck command)"
    field_keys = tuple(key for key, _label in FIELDS)

    def __init__(self, taken: frozenset[str]) -> None:
        super().__init__()
        self._taken = taken

    def compose(self) -> ComposeResult:
        hidden = {key for key, _label in SECRETS}
        with VerticalScroll(id="run-box", classes="dialog"):
            yield Static("Add a profile", id="run-title")
            defaults = {"region": "GRA", "kind": ProfileKind.OVHCLOUD.value}
            for key, label in FIELDS:
                field = Input(defaults.get(key, ""), id=f"profile-{key}", placeholder=HINTS.get(key, ""), password=key in hidden)
                yield from self.compose_field(label, field)
            yield from self.compose_end("Save")

    def on_mount(self) -> None:
        self.query_one("#profile-name", Input).focus()
        self._show_kind()
        self._update()

    @on(Input.Changed, "#profile-kind")
    def _show_kind(self) -> None:
        """Only the chosen kind's fields are on the form (an unknown kind keeps them all, marked on save)."""
        try:
            shown = shown_fields(kind_of(self._values()))
        except FieldError:
            shown = frozenset(key for key, _label in FIELDS)
        for key, _label in FIELDS:
            row = self.query_one(f"#profile-{key}", Input).parent
            if row is not None:
                row.display = key in shown

    def action_next_kind(self) -> None:
        field = self.query_one("#profile-kind", Input)
        current = field.value.strip().lower()
        field.value = KIND_NAMES[(KIND_NAMES.index(current) + 1) % len(KIND_NAMES)] if current in KIND_NAMES else KIND_NAMES[0]

    def build(self, values: dict[str, str], unsecure_http: bool) -> Profile:
        return profile_from_fields(values, self._taken)

    def command(self, spec: Profile) -> str:
        return profile_add_command(spec)

    def action_run(self) -> None:
        """Saved before the form closes: if the write is refused (another shell just took the
        name, a read-only config), what was typed is still here."""
        profile = self.checked()
        if profile is not None:
            self._save(profile)

    @work(thread=True, exclusive=True, group="profile-save", exit_on_error=False)
    def _save(self, profile: Profile) -> None:
        try:
            save_profile(profile)
        except FieldError:  # the name was free when checked: another shell took it since
            self.app.call_from_thread(self.refuse, FieldError("name", f"profile '{profile.name}' was just added elsewhere (another shell?): pick another name"))
        except UserError as error:
            self.app.call_from_thread(self.refuse, FieldError("name", error.message))
        else:
            self.app.call_from_thread(self.dismiss, profile)
