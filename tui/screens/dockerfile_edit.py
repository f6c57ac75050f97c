"""`e` on the Images panel: edit the Dockerfile before building it (ctrl+s keeps, esc drops,
ctrl+o opens it in $EDITOR).

The text lives only in the session until a build uses it; writing it to disk is the
CLI's `image dockerfile -o`, so nothing lands where the user did not say.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static, TextArea

from tui.keymap import KEYMAP
from tui.screens.dialog import DialogKeys


class DockerfileEditScreen(DialogKeys, ModalScreen[str | None]):
    BINDINGS = KEYMAP["dockerfile-edit"]

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="dockerfile-edit-box", classes="dialog"):
            yield Static("Dockerfile: ctrl+s keeps it for builds, esc drops the changes", id="dockerfile-edit-help")
            yield TextArea(self._text, id="dockerfile-editor", show_line_numbers=True, soft_wrap=False)

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_keep(self) -> None:
        text = self.query_one(TextArea).text
        if not any(line.strip().upper().startswith("FROM ") for line in text.splitlines()):
            self.notify("a Dockerfile needs a FROM line: add one, or esc to drop the changes", severity="error")
            return
        self.dismiss(text if text.endswith("\n") else text + "\n")

    def action_external(self) -> None:
        """The text in the user's $EDITOR; what it saves comes back here, still to keep or drop."""
        from tui.handoff import hand_over, read_back, scratch_file

        area = self.query_one(TextArea)
        edited = None
        with scratch_file("Dockerfile", area.text) as path:
            problem = hand_over(self.app, "EDITOR", path)
            if problem is None:
                edited, problem = read_back(path, "Dockerfile")
        if problem:
            self.notify(problem, severity="warning")
        elif edited is not None:
            area.load_text(edited)

    def action_drop(self) -> None:
        self.dismiss(None)
