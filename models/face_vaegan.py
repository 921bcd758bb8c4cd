"""The critics that train the face VAE: a discriminator on images and a critic on latent codes.

`FaceDiscriminator` tells real faces from decoded ones and reads the CelebA attributes of real faces (an
auxiliary head). It first served as the learned similarity of a VAE/GAN (Larsen et al. 2016, "Autoencoding
beyond pixels using a learned similarity metric"): a blurred glasses frame is far from a sharp one in its
features even where it is close in pixels (`feature_distance`). training/train_face_vae.py now uses mostly
its attribute head, to read glasses and sex on the VAE's reconstructions, and its GAN head, on edits and
prior samples.

`LatentCritic` reads the glasses label from a latent code without its glasses coordinate; the encoder learns
to defeat it (Fader Networks), so that the decoder has to draw glasses from that coordinate alone.
Both are used only for training; the app ships the FaceVAE alone.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class FaceDiscriminator(nn.Module):
    """Stride-2 4×4 convolutions with LeakyReLU, halving the side and doubling the channels down to 4×4;
    at 64×64 with width 32: (3, 64, 64) → (32, 32, 32) → (64, 16, 16) → (128, 8, 8) → (256, 4, 4),
    then one real-vs-decoded logit and one logit per attribute.

    Spectral normalisation (not batch norm, whose statistics would mix real and decoded faces in a batch)
    keeps the discriminator smooth enough to train next to the VAE from the first step.
    `forward` also returns the feature maps of `similarity_stages` (the 16×16 and 8×8 ones by default):
    Larsen et al.'s Dis_l, fine enough to place a glasses frame.
    """

    def __init__(
        self, image_size: int = 64, width: int = 32, attributes: int = 0, similarity_stages: tuple[int, ...] = (1, 2)
    ):
        super().__init__()
        stages = round(math.log2(image_size)) - 2
        if image_size < 16 or 2 ** (stages + 2) != image_size:
            raise ValueError(f"image_size must be a power of two of at least 16, got {image_size}")
        channels = [width * 2**stage for stage in range(stages)]
        self.stages = nn.ModuleList(
            nn.Sequential(spectral_norm(nn.Conv2d(in_channels, out_channels, 4, 2, 1)), nn.LeakyReLU(0.2))
            for in_channels, out_channels in zip([3, *channels], channels)
        )
        self.similarity_stages = tuple(similarity_stages)
        self.real_or_decoded = spectral_norm(nn.Linear(channels[-1] * 16, 1))
        self.attributes = nn.Linear(channels[-1] * 16, attributes) if attributes else None

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, list[torch.Tensor]]:
        """(B, 3, S, S) in 0..1 → (real logits (B,), attribute logits (B, A) or None, similarity features)."""
        hidden, features = images * 2 - 1, []
        for index, stage in enumerate(self.stages):
            hidden = stage(hidden)
            if index in self.similarity_stages:
                features.append(hidden)
        hidden = hidden.flatten(1)
        attributes = self.attributes(hidden) if self.attributes is not None else None
        return self.real_or_decoded(hidden).squeeze(1), attributes, features


def feature_distance(features: list[torch.Tensor], targets: list[torch.Tensor]) -> torch.Tensor:
    """Squared distance between two faces' discriminator features, relative to the targets' size: mean over
    the similarity stages of ||f(x̂) − f(x)||² / ||f(x)||² (per image, batch mean); 0 for identical faces.

    Relative, because the features' scale drifts as the discriminator trains, and a fixed weight on an
    absolute distance would mean something different every epoch.
    """
    distances = [
        (feature - target).pow(2).flatten(1).sum(1) / target.pow(2).flatten(1).sum(1).clamp_min(1e-8)
        for feature, target in zip(features, targets, strict=True)
    ]
    return torch.stack(distances).mean(0).mean()


def real_loss(logits: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy towards "real" (the non-saturating GAN loss when the logits are of decoded faces)."""
    return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))


def decoded_loss(logits: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy towards "decoded"."""
    return F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))


class LatentCritic(nn.Module):
    """Reads the eyeglasses label from a face's latent code without its glasses coordinate (Fader Networks,
    Lample et al. 2017): the encoder is trained to defeat it, so that glasses live in that one coordinate
    alone and the decoder has to draw them from it."""

    def __init__(self, latent_dim: int, hidden: int = 256):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(latent_dim, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, latent_dim) → glasses logits (B,)."""
        return self.layers(latents).squeeze(1)
