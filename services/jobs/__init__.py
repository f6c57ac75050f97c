"""GPU jobs: AI Training on OVHcloud, a real tritonserver process on the local profile."""
