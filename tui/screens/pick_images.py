"""Choose what to classify: a file or a directory from a tree, a typed path, or the shipped samples."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Input, Static

from services.demo import SAMPLES_DIR
from tui.keymap import KEYMAP
from tui.screens.dialog import DialogKeys


class PickImagesScreen(DialogKeys, ModalScreen[Path | None]):
    """`enter` on a file takes it, `u` takes the highlighted directory, `s` the samples;
    a path typed in the box and submitted wins over the tree."""

    BINDINGS = KEYMAP["pick-images"]

    def __init__(self, root: Path, current: Path | None = None) -> None:
        super().__init__()
        self._root = root
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="pick-box", classes="dialog"):
            yield Static("Images to classify: enter takes a file, u the highlighted directory, s the shipped samples", id="pick-help")
            yield Input(str(self._current or ""), placeholder="or type a file or directory path and press enter", id="pick-path")
            yield DirectoryTree(self._root, id="pick-tree")

    def on_mount(self) -> None:
        self.query_one(DirectoryTree).focus()

    @on(DirectoryTree.FileSelected)
    def _file(self, event: DirectoryTree.FileSelected) -> None:
        self.dismiss(event.path)

    @on(Input.Submitted)
    def _typed(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        path = Path(text).expanduser()
        if not path.exists():
            self.notify(f"{path} does not exist: type an existing file or directory", severity="error")
            return
        self.dismiss(path)

    def action_use_directory(self) -> None:
        node = self.query_one(DirectoryTree).cursor_node
        if node is not None and node.data is not None:
            path = Path(node.data.path)
            self.dismiss(path if path.is_dir() else path.parent)

    def action_samples(self) -> None:
        self.dismiss(SAMPLES_DIR)

    def action_cancel(self) -> None:
        self.dismiss(None)
