"""Where the shipped demo lives: the model repository and the sample photos.

They sit beside the `services` package, in a checkout as in a wheel (where `services` and
`demo` are both inside `triton_deck/`), so the domain finds them without importing the
distribution shim; and the defaults that make them answer well (the classifier's
name, INCEPTION scaling) are named here once for the pane, the CLI and `triton-deck demo`.
"""

from __future__ import annotations

from pathlib import Path

from services.inference.protocol import Scaling

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"
MODEL_REPOSITORY = DEMO_DIR / "model_repository"
SAMPLES_DIR = DEMO_DIR / "samples"
CLASSIFIER = "efficientnet_lite0"
CLASSIFIER_SCALING = Scaling.INCEPTION  # the tutorial's -s INCEPTION: the demo model expects [-1, 1] pixels
