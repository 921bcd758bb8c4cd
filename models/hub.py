"""Saving and loading models the Hub way, strictly and only from safetensors; and where a model's weights are.

Every model of the suite subclasses `StrictHubMixin`: `save_pretrained(folder)` writes
`config.json` (the constructor's arguments) and `model.safetensors`, and
`from_pretrained(folder_or_repo)` rebuilds the model from them.

huggingface_hub's `PyTorchModelHubMixin` loads with `strict=False` by default, which
silently keeps random weights when a key is missing or renamed, and falls back to
unpickling `pytorch_model.bin` when no safetensors file exists. Both are refused here.
"""

from __future__ import annotations

from typing import Any

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn


def model_device(model: nn.Module) -> torch.device:
    """Where a model's weights are: inputs are moved there (the CPU, or a GPU on ZeroGPU)."""
    return next(model.parameters()).device


class StrictHubMixin(PyTorchModelHubMixin):
    """`PyTorchModelHubMixin` that loads every key or fails, and never unpickles."""

    @classmethod
    def _load_as_safetensor(cls, model: Any, model_file: str, map_location: str, strict: bool) -> Any:
        return super()._load_as_safetensor(model, model_file, map_location, strict=True)

    @classmethod
    def _load_as_pickle(cls, model: Any, model_file: str, map_location: str, strict: bool) -> Any:
        raise OSError(
            f"Refusing to load {model_file}: this suite loads weights only from model.safetensors, "
            "never from pickled checkpoints."
        )
