"""argparse with the two hints a CLI user expects from kubectl and git.

* A mistyped command or choice gets "did you mean": `triton-deck jbo list` names `job`.
* `job run IMAGE bash -c 'echo hi'` without `--` reads `-c` as `--cpu`; the error then says
  that the job's command goes after `--` instead of only "invalid int value".
"""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Callable
from typing import Any, NoReturn

INVALID_CHOICE = re.compile(r"invalid choice: '(?P<typed>[^']*)' \(choose from (?P<choices>.*)\)")


def did_you_mean(message: str) -> str:
    """`message` with the closest choice named, when argparse refused a choice."""
    found = INVALID_CHOICE.search(message)
    if not found:
        return message
    choices = re.findall(r"'([^']*)'", found["choices"])
    close = difflib.get_close_matches(found["typed"], choices, n=1, cutoff=0.6)
    return f"{message}; did you mean '{close[0]}'?" if close else message


class DeckParser(argparse.ArgumentParser):
    """`separated` is set per parse: True when the words held `--` (the job's command was cut off)."""

    separated = False

    def error(self, message: str) -> NoReturn:
        message = did_you_mean(message)
        kind = next((word for word in ("job", "app") if self.prog.endswith(f" {word} run")), None)
        if kind and not self.separated and "unrecognized arguments" not in message:
            message += f"; {'an' if kind == 'app' else 'a'} {kind}'s command goes after --: `triton-deck {kind} run [OPTIONS] IMAGE -- bash -c '…'`"
        super().error(message)


def parser_class(separated: bool) -> type[DeckParser]:
    """A DeckParser subclass for one parse; subcommand parsers inherit it (argparse uses type(parent))."""
    return type("DeckParserForThisParse", (DeckParser,), {"separated": separated})


OutputOption = Callable[[argparse.ArgumentParser], None]


class CommandGroup:
    """`triton-deck NOUN ACTION …`: a group's actions, each taking the common options and
    naming its handler; those that print records also take `-o` (`output=True`)."""

    def __init__(self, groups: argparse._SubParsersAction, common: argparse.ArgumentParser, output_option: OutputOption, noun: str, help: str) -> None:  # type: ignore[type-arg]
        self.common, self.output_option = common, output_option
        parser = groups.add_parser(noun, parents=[common], help=help)
        self.actions = parser.add_subparsers(title=f"{noun} commands", metavar="ACTION", required=True)

    def action(self, name: str, handler: Callable[..., int], help: str, *, output: bool = False, **options: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = self.actions.add_parser(name, parents=[self.common], help=help, **options)
        parser.set_defaults(handler=handler)
        if output:
            self.output_option(parser)
        return parser

    def group(self, noun: str, help: str) -> CommandGroup:
        """A group inside this one (`bucket object …`)."""
        return CommandGroup(self.actions, self.common, self.output_option, noun, help)
