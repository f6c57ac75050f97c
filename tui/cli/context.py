"""What every command handler gets: parsed args, config, environment, output and services.

The services come from a factory, as the app's do (`make_app`), so a test can run any
command on fakes and the real CLI opens the profile's real backends once, on first use.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping
from typing import TextIO

from services.backends import ServiceSet, open_services
from services.config import Config, Profile, load_config, select_profile_name
from tui.cli.output import shown

ServiceOpener = Callable[[Profile, Mapping[str, str]], ServiceSet]


class Context:
    """What every command handler gets: parsed args, config, environment and output."""

    def __init__(self, args: argparse.Namespace, env: Mapping[str, str], out: TextIO, open_services: ServiceOpener = open_services) -> None:
        self.args = args
        self.env = env
        self.out = out
        self._config: Config | None = None
        self._open_services = open_services
        self._services: ServiceSet | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config()
        return self._config

    @property
    def profile(self) -> Profile:
        return self.config.profile(select_profile_name(self.config, self.args.profile, self.env))

    @property
    def services(self) -> ServiceSet:
        """The active profile's services, opened once per command."""
        if self._services is None:
            self._services = self._open_services(self.profile, self.env)
        return self._services

    def services_for(self, profile: Profile) -> ServiceSet:
        """`profile`'s services: the active set when it is the active profile."""
        return self.services if profile == self.profile else self._open_services(profile, self.env)

    def print(self, text: str = "") -> None:
        print(shown(text, self.out), file=self.out)

    def print_json(self, data: object) -> None:
        print(json.dumps(data, indent=2, sort_keys=True), file=self.out)
