"""Where the shipped demo lives: the model repository and the sample photos.

They ship with the package (`triton_deck.demo_dir()`: inside it in a wheel, beside the
packages in a checkout), and the defaults that make them answer well (the classifier's
name, INCEPTION scaling) are named here once for the pane, the CLI and `triton-deck demo`.
"""

from __future__ import annotations

from services.inference.protocol import Scaling
from triton_deck import demo_dir

DEMO_DIR = demo_dir()
MODEL_REPOSITORY = DEMO_DIR / "model_repository"
SAMPLES_DIR = DEMO_DIR / "samples"
CLASSIFIER = "efficientnet_lite0"
CLASSIFIER_SCALING = Scaling.INCEPTION  # the tutorial's -s INCEPTION: the demo model expects [-1, 1] pixels
