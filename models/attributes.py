"""Face attribute classifier: the suite's measuring stick for the glasses demo (a tool, not an app tab).

It reads CelebA attributes (`ATTRIBUTES`: eyeglasses and male, and cheaply black_hair and blond_hair for
the hair CycleGAN) from (B, 3, S, S) RGB faces in 0..1, S = `image_size` (64 shipped), framed like the
suite's CelebA faces. Its job is to measure whether the face VAE's reconstructions and glasses edits
show glasses (and whether the CycleGAN recoloured the hair), so it was trained with random Gaussian blur
to keep reading glasses on blurry images. Note that CelebA's Eyeglasses counts sunglasses too.

`load_attribute_classifier(folder)` loads a Hub-layout folder strictly; `predict` gives probabilities,
`decide` applies the decision thresholds stored in config.json, and `attribute_figures` computes the
held-out figures (accuracy, recall, specificity; glasses recall on clear, all and blurred glasses) that
the model card reports and the shipped-model test checks.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from models.hub import StrictHubMixin, model_device

# CelebA is for non-commercial research only, so the weights carry no open licence.
HUB_METADATA = dict(library_name="pytorch", license="other", tags=["celeba", "image-classification"])

ATTRIBUTES = ("eyeglasses", "male", "black_hair", "blond_hair")
EVAL_BLUR_SIGMA = 1.5  # the blur of the "blurred glasses" figure, in pixels of a 64×64 face


class AttributeClassifier(nn.Module, StrictHubMixin, **HUB_METADATA):
    """A plain small CNN: stride-2 3×3 conv stages with batch norm and ReLU, each halving the side and
    doubling the channels down to 4×4, then global average pooling, dropout and one logit per attribute.

    At 64×64 with width 32: (3, 64, 64) → (32, 32, 32) → (64, 16, 16) → (128, 8, 8) → (256, 4, 4) → (4,).
    `thresholds` maps each attribute to the probability at which it counts as present (0.5 by default).
    """

    def __init__(
        self,
        image_size: int = 64,
        width: int = 32,
        attributes: tuple[str, ...] | list[str] = ATTRIBUTES,
        thresholds: dict[str, float] | None = None,
        dropout: float = 0.3,
    ):
        super().__init__()
        stages = round(math.log2(image_size)) - 2
        if image_size < 16 or 2 ** (stages + 2) != image_size:
            raise ValueError(f"image_size must be a power of two of at least 16, got {image_size}")
        self.image_size, self.attributes = image_size, tuple(attributes)
        self.thresholds = {name: 0.5 for name in self.attributes} | dict(thresholds or {})
        unknown = sorted(set(self.thresholds) - set(self.attributes))
        if unknown:
            raise ValueError(f"thresholds for unknown attributes {unknown}; attributes: {self.attributes}")

        channels = [width * 2**stage for stage in range(stages)]  # [32, 64, 128, 256] at 64×64
        layers = []
        for in_channels, out_channels in zip([3, *channels], channels):
            layers += [nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1, bias=False)]
            layers += [nn.BatchNorm2d(out_channels), nn.ReLU()]
        self.features = nn.Sequential(*layers)  # (B, 256, 4, 4)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),  # (B, 256, 1, 1)
            nn.Flatten(),  # (B, 256)
            nn.Dropout(dropout),
            nn.Linear(channels[-1], len(self.attributes)),  # (B, attributes)
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) in 0..1 → (B, attributes) logits."""
        return self.head(self.features(images * 2 - 1))


def load_attribute_classifier(folder: Path) -> AttributeClassifier:
    """Load a Hub-layout folder: config.json and model.safetensors, every key or fail; in eval mode."""
    return AttributeClassifier.from_pretrained(Path(folder)).eval()


def _as_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 (as FaceDataset stores them) or float 0..1 → float 0..1."""
    return images.float().div(255) if images.dtype == torch.uint8 else images.float()


@torch.inference_mode()
def predict(model: AttributeClassifier, images: torch.Tensor, batch_size: int = 256) -> dict[str, torch.Tensor]:
    """Probabilities that each attribute is present: name → (B,) tensor on the CPU.

    `images` is (B, 3, S, S) or (3, S, S), float in 0..1 or uint8; S must be the model's image_size.
    """
    images = images[None] if images.dim() == 3 else images
    if images.shape[1:] != (3, model.image_size, model.image_size):
        raise ValueError(f"expected (B, 3, {model.image_size}, {model.image_size}) faces, got {tuple(images.shape)}")
    device = model_device(model)
    logits = [model(_as_float(batch).to(device)).float().cpu() for batch in images.split(batch_size)]
    probabilities = torch.cat(logits).sigmoid()
    return {name: probabilities[:, index] for index, name in enumerate(model.attributes)}


def decide(model: AttributeClassifier, probabilities: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Yes/no per attribute ((B,) bool tensors), with the thresholds stored in the model's config."""
    return {name: value >= model.thresholds[name] for name, value in probabilities.items()}


def gaussian_blur(images: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
    """Blur (B, C, H, W) float images with a Gaussian of `sigma` pixels: one value, or one per image ((B,)).

    Separable, truncated at 4 sigma, with reflected borders; sigma 0 leaves an image unchanged. Used for
    training augmentation (a different sigma per image) and for the "blurred glasses" figure.
    """
    batch, channels, height, width = images.shape
    sigma = torch.as_tensor(sigma, dtype=torch.float32, device=images.device).expand(batch).clamp_min(1e-3)
    radius = max(1, math.ceil(4 * float(sigma.max())))  # the kernel's tails beyond 4 sigma: < 1e-4
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32, device=images.device)
    kernel = torch.exp(-(offsets**2) / (2 * sigma[:, None] ** 2))
    kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(channels, 0).to(images.dtype)  # (B·C, K)
    # Every (image, channel) plane is its own group, so each image gets its own kernel.
    planes = F.pad(images.reshape(1, batch * channels, height, width), [radius] * 4, mode="reflect")
    planes = F.conv2d(planes, kernel[:, None, None, :], groups=batch * channels)  # along rows
    planes = F.conv2d(planes, kernel[:, None, :, None], groups=batch * channels)  # along columns
    return planes.reshape(batch, channels, height, width)


def attribute_figures(
    model: AttributeClassifier, images: torch.Tensor, labels: dict[str, torch.Tensor], sunglasses: torch.Tensor
) -> dict[str, float]:
    """Held-out figures on labelled faces, each a fraction in 0..1 (NaN where a group is empty).

    For every attribute in `labels` (name → (N,) 0/1): `<name>_accuracy`, `<name>_recall` (of faces that
    have it, the share read as having it) and `<name>_specificity` (of faces without it, the share read
    as without). For eyeglasses also `eyeglasses_recall_clear` (glasses not flagged `sunglasses`), and,
    on the faces blurred by EVAL_BLUR_SIGMA, `eyeglasses_recall_blurred` (all glasses),
    `eyeglasses_recall_clear_blurred` and `eyeglasses_specificity_blurred`.
    """

    def share(hits: torch.Tensor, among: torch.Tensor) -> float:
        return float(hits[among].float().mean()) if among.any() else math.nan

    said = decide(model, predict(model, images))
    figures = {}
    for name, truth in labels.items():
        truth = truth.bool()
        figures[f"{name}_accuracy"] = float((said[name] == truth).float().mean())
        figures[f"{name}_recall"] = share(said[name], truth)
        figures[f"{name}_specificity"] = share(~said[name], ~truth)
    if "eyeglasses" in labels:
        glasses, clear = labels["eyeglasses"].bool(), labels["eyeglasses"].bool() & ~sunglasses.bool()
        figures["eyeglasses_recall_clear"] = share(said["eyeglasses"], clear)
        blurred = torch.cat([gaussian_blur(_as_float(batch), EVAL_BLUR_SIGMA) for batch in images.split(256)])
        said_blurred = decide(model, predict(model, blurred))["eyeglasses"]
        figures["eyeglasses_recall_blurred"] = share(said_blurred, glasses)
        figures["eyeglasses_recall_clear_blurred"] = share(said_blurred, clear)
        figures["eyeglasses_specificity_blurred"] = share(~said_blurred, ~glasses)
    return figures
