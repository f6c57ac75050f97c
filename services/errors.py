"""Errors that carry a one-line message meant for the user.

Every failure a user can cause or fix (bad input, missing credentials, unreachable
service) is raised as a `UserError` whose text names the thing and the fix. The CLI
prints it on one line and the TUI shows it in a notification, both after redaction.
"""

from __future__ import annotations


class UserError(Exception):
    """A failure with a message that is fit to show as is (one line, no secrets)."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))

    @property
    def message(self) -> str:
        return str(self)


class NotAvailableError(UserError):
    """A capability that this profile does not offer (yet)."""


class FieldError(UserError):
    """A refused value, naming the field it came from: a form marks that field, the CLI prints the line."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
