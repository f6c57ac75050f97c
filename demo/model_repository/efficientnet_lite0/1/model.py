"""EfficientNet-Lite0 (ImageNet-1k) served by Triton's python backend through onnxruntime.

The bundled CPU Triton has no onnxruntime backend, so the ONNX model next to this file
runs inside the python backend's stub instead.
"""

import os

import numpy as np
import onnxruntime
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        path = os.path.join(args["model_repository"], args["model_version"], "model.onnx")
        self.session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])

    def execute(self, requests):
        responses = []
        for request in requests:
            batch = pb_utils.get_input_tensor_by_name(request, "input").as_numpy().astype(np.float32)
            (logits,) = self.session.run(["logits"], {"input": batch})
            responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("logits", logits.astype(np.float32))]))
        return responses
