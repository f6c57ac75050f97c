"""Every panel's and screen's keys, in one table: the views take theirs from it (`BINDINGS =
KEYMAP["jobs"]`), so one place shows which key does what where, and a clash within a view is
a test failure (tests/test_keys.py) instead of a key that silently does the other thing.

The app-wide keys stay in tui/app.py (its number keys come from the view registry) and the
reusable widgets keep their own (widgets/ does not import tui/); the help screen and KEYS.md
gather all of them through tui/keys.py.
"""

from __future__ import annotations

from textual.binding import Binding, BindingType

KEYMAP: dict[str, list[BindingType]] = {
    "apps": [
        Binding("enter", "describe", "Describe", show=False, tooltip="the selected app's spec, state history, replicas and URL"),
        Binding("n", "new_app", "Run app", tooltip="run Triton as an AI Deploy app: image, models bucket, replicas or autoscaling"),
        Binding("l", "logs", "Logs", tooltip="follow the selected app's log, every replica or one"),
        Binding("s", "scale", "Scale", tooltip="change the selected app's replicas or its autoscaling"),
        Binding("i", "set_image", "Image", tooltip="roll the selected app onto another image"),
        Binding("t", "start", "Start", tooltip="start the selected stopped app again"),
        Binding("x", "stop", "Stop", tooltip="stop the selected app (it keeps its URL)"),
        Binding("ctrl+d", "delete", "Delete", tooltip="delete the selected app"),
        Binding("slash", "filter", "Filter", tooltip="show only the apps whose row contains a text"),
        Binding("r", "refresh", "Refresh", show=False, tooltip="list the apps again now"),
    ],
    "buckets": [
        # In the order a narrow footer keeps them (see PriorityFooter).
        Binding("enter", "open", "Open", show=False, tooltip="open the highlighted bucket or prefix"),
        Binding("n", "create_bucket", "New bucket", tooltip="create a bucket (name@REGION)"),
        Binding("u", "upload", "Upload", tooltip="upload a model repository, ovhai's prefix rule"),
        Binding("d", "download", "Download", tooltip="download the highlighted object or prefix into a directory"),
        Binding("ctrl+d", "delete", "Delete", tooltip="delete the highlighted object, prefix (counted first) or empty bucket"),
        Binding("escape,backspace", "back", "Back", tooltip="up one prefix, then back to the bucket list"),
        Binding("slash", "filter", "Filter", tooltip="show only the keys that contain a text"),
        Binding("r", "refresh", "Refresh", show=False, tooltip="list again now"),
        Binding("t", "focus_tree", "Prefix tree", show=False, tooltip="move to the prefix tree beside the listing"),
    ],
    "images": [
        Binding("b", "build", "Build", tooltip="build the AI Training image (user 42420, linux/amd64)"),
        Binding("P", "push", "Push", tooltip="push the built image, layer by layer"),
        Binding("e", "edit", "Edit", tooltip="edit the Dockerfile"),
        Binding("c", "toggle_client", "Server/client", tooltip="switch between the server and the client image"),
        Binding("v", "version", "Version", show=False, tooltip="set the Triton release (YY.MM)"),
        Binding("f", "base", "FROM", show=False, tooltip="set the base image"),
        Binding("a", "add_registry", "Add registry", tooltip="add a registry (attached to the project on AI Training)"),
        Binding("ctrl+d", "remove_registry", "Remove registry", show=False, tooltip="remove the highlighted registry"),
        Binding("r", "refresh", "Refresh", show=False, tooltip="look at the local images again"),
    ],
    "inference": [
        Binding("c", "classify", "Classify", tooltip="classify the chosen images with the chosen model, top-k as image_client"),
        Binding("I", "infer", "Infer", tooltip="one request to the chosen model: its inputs in a form made from its metadata"),
        Binding("o", "pick_images", "Images", tooltip="choose the images (a file or a directory)"),
        Binding("s", "cycle_scaling", "Scaling", tooltip="INCEPTION, VGG or no preprocessing"),
        Binding("i", "toggle_protocol", "HTTP/gRPC", tooltip="talk to the server over HTTP or gRPC"),
        Binding("plus", "top_k(1)", "Top-k +", show=False),
        Binding("minus", "top_k(-1)", "Top-k -", show=False),
        Binding("e", "edit_endpoint", "Endpoint", tooltip="type the server's URL (empty: the newest server job)"),
        Binding("P", "perf", "Perf", tooltip="measure the model: a load sweep like perf_analyzer"),
        Binding("T", "tune", "Tune", tooltip="find the config that serves the most under a latency budget, on the running server"),
        Binding("r", "refresh", "Refresh", show=False, tooltip="check the server again now"),
        Binding("slash", "filter", "Filter", tooltip="show only the models whose row contains a text"),
    ],
    "jobs": [
        Binding("enter", "describe", "Describe", show=False, tooltip="the selected job's spec, state history and URL"),
        Binding("n", "new_job", "Run job", tooltip="run a GPU job: image, command, volumes, GPUs"),
        Binding("l", "logs", "Logs", tooltip="follow the selected job's log"),
        Binding("s", "stop", "Stop", tooltip="stop the selected job"),
        Binding("ctrl+d", "delete", "Delete", tooltip="delete the selected job"),
        Binding("slash", "filter", "Filter", tooltip="show only the jobs whose row contains a text"),
        Binding("r", "refresh", "Refresh", show=False, tooltip="list the jobs again now"),
    ],
    "app-detail": [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("l", "panel('logs')", "Logs"),
        Binding("s", "panel('scale')", "Scale"),
        Binding("x", "panel('stop')", "Stop"),
        Binding("ctrl+d", "panel('delete')", "Delete"),
        Binding("c", "copy('url')", "Copy URL"),
        Binding("g", "copy('grpc')", "Copy gRPC"),
        Binding("o", "copy('ovhai')", "Copy ovhai"),
        Binding("t", "tune", "Tune"),
    ],
    "confirm": [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ],
    "deploy": [
        Binding("escape", "leave", "Back"),
        Binding("r", "run", "Run/resume"),
        Binding("f", "fresh", "Start over"),
        Binding("e", "edit", "Edit plan"),
        Binding("E", "edit_external", "Plan in $EDITOR"),
        Binding("c", "toggle_commands", "Commands"),
        Binding("y", "copy_command", "Copy command", tooltip="copy the highlighted step's command through the terminal (OSC 52)"),
        Binding("enter", "open_panel", "Open panel"),
    ],
    "dockerfile-edit": [
        Binding("ctrl+s", "keep", "Keep"),
        Binding("ctrl+o", "external", "In $EDITOR"),  # ctrl+e is the text area's end of line
        Binding("escape", "drop", "Cancel"),
    ],
    "image-build": [
        Binding("escape", "leave", "Back"),
        Binding("ctrl+b", "build", "Build"),
        Binding("p", "push", "Push"),
    ],
    "image-push": [
        Binding("escape", "leave", "Back"),
        Binding("y", "copy", "Copy reference"),
    ],
    "job-detail": [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("l", "panel('logs')", "Logs"),
        Binding("s", "panel('stop')", "Stop"),
        Binding("ctrl+d", "panel('delete')", "Delete"),
        Binding("c", "copy('url')", "Copy URL"),
        Binding("i", "copy('ip')", "Copy IP"),
        Binding("o", "copy('ovhai')", "Copy ovhai"),
        Binding("t", "tune", "Tune"),
    ],
    "log-screen": [
        Binding("escape,q", "back", "Back"),
        Binding("t", "toggle_time", "Times"),
        Binding("s", "toggle_source", "Source"),
        Binding("ampersand", "toggle_grep", "Only matches"),
        Binding("v", "pager", "In $PAGER"),
        Binding("ctrl+s", "save", "Save"),
    ],
    "perf": [
        Binding("escape", "leave", "Stop/Back"),
        Binding("ctrl+r", "run", "Run"),
        Binding("i", "toggle_protocol", "HTTP/gRPC"),
        Binding("j", "toggle_client_job", "Here/Client job"),
        Binding("ctrl+s", "save", "Save"),
        Binding("c", "command", "Command"),
    ],
    "pick-images": [
        Binding("escape", "cancel", "Cancel"),
        Binding("u", "use_directory", "Use directory"),
        Binding("s", "samples", "Shipped samples"),
    ],
    "profiles": [
        Binding("escape", "cancel", "Cancel"),
        Binding("a", "add", "Add", tooltip="add an OVHcloud profile (saved 0600), then check it"),
        Binding("c", "check", "Check", tooltip="try the highlighted profile's token, storage and APIs for real"),
    ],
    "tune": [
        Binding("escape", "leave", "Back"),
        Binding("ctrl+r", "run", "Run"),
        Binding("x", "cancel", "Cancel"),
        Binding("w", "write", "Write"),
        Binding("f", "form", "Form"),
    ],
    "upload": [
        Binding("escape", "cancel", "Cancel / close"),
        Binding("ctrl+s", "upload", "Upload"),
    ],
}
