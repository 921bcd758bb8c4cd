"""Digits: a dense autoencoder and a convolutional VAE for 28×28 MNIST digits.

Both models take and return images as (B, 1, 28, 28) tensors in 0..1 and share one interface:
`encode(images) -> latent`, `decode(latent) -> images`. The functions at the bottom
(`preprocess_digit`, `reconstruct`, `sample`, `interpolate`) are what the app calls.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from models.hub import StrictHubMixin
from models.imaging import ImageInputError, open_image

HUB_METADATA = dict(library_name="pytorch", license="cc-by-sa-3.0", tags=["mnist", "generative-models-suite"])


class Autoencoder(nn.Module, StrictHubMixin, **HUB_METADATA):
    """The book's dense autoencoder: 784 → 200 → 20 (latent) → 200 → 784, ReLU, sigmoid output."""

    def __init__(self, image_size: int = 28, hidden_dim: int = 200, latent_dim: int = 20):
        super().__init__()
        self.image_size = image_size
        pixels = image_size * image_size
        self.encoder = nn.Sequential(
            nn.Flatten(),                       # (B, 784)
            nn.Linear(pixels, hidden_dim),      # (B, 200)
            nn.ReLU(),
            nn.Linear(hidden_dim, latent_dim),  # (B, 20)
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim),  # (B, 200)
            nn.ReLU(),
            nn.Linear(hidden_dim, pixels),      # (B, 784)
            nn.Sigmoid(),
        )

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder(images)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        return self.decoder(latent).view(-1, 1, self.image_size, self.image_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(images))


class VAE(nn.Module, StrictHubMixin, **HUB_METADATA):
    """A convolutional VAE with a 20-d latent; `decode` outputs Bernoulli means (sigmoid)."""

    def __init__(self, latent_dim: int = 20, channels: int = 32, hidden_dim: int = 256):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(
            nn.Conv2d(1, channels, 4, stride=2, padding=1),             # (B, 32, 14, 14)
            nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, 4, stride=2, padding=1),  # (B, 64, 7, 7)
            nn.ReLU(),
            nn.Flatten(),                                               # (B, 3136)
            nn.Linear(2 * channels * 7 * 7, hidden_dim),                # (B, 256)
            nn.ReLU(),
        )
        self.to_mu = nn.Linear(hidden_dim, latent_dim)                  # (B, 20)
        self.to_logvar = nn.Linear(hidden_dim, latent_dim)              # (B, 20)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim),                          # (B, 256)
            nn.ReLU(),
            nn.Linear(hidden_dim, 2 * channels * 7 * 7),                # (B, 3136)
            nn.ReLU(),
            nn.Unflatten(1, (2 * channels, 7, 7)),                      # (B, 64, 7, 7)
            nn.ConvTranspose2d(2 * channels, channels, 4, stride=2, padding=1),  # (B, 32, 14, 14)
            nn.ReLU(),
            nn.ConvTranspose2d(channels, 1, 4, stride=2, padding=1),    # (B, 1, 28, 28)
            nn.Sigmoid(),
        )

    def encode_distribution(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(images)
        return self.to_mu(hidden), self.to_logvar(hidden)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """The posterior mean: the deterministic code used for reconstruction and interpolation."""
        return self.encode_distribution(images)[0]

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        return self.decoder(latent)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode_distribution(images)
        latent = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)  # reparameterisation trick
        return self.decode(latent), mu, logvar


def autoencoder_loss(reconstruction: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Mean squared error per pixel."""
    return F.mse_loss(reconstruction, images)


def vae_loss(
    reconstruction: torch.Tensor, images: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Negative ELBO in nats per image, and its KL part: BCE summed over pixels + KL(q(z|x) || N(0, I))."""
    batch = images.shape[0]
    reconstruction_nats = F.binary_cross_entropy(reconstruction, images, reduction="sum") / batch
    kl_nats = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / batch
    return reconstruction_nats + kl_nats, kl_nats


# ----------------------------------------------------------------------------------------------
# Inference: what the app calls.

DIGIT_BOX = 20  # MNIST fits each digit into 20×20 ...
DIGIT_CANVAS = 28  # ... and centres it by centre of mass in 28×28.


def preprocess_digit(source: str | Image.Image | np.ndarray | None) -> torch.Tensor:
    """Turn a drawing or photo of one digit into an MNIST-like (1, 28, 28) tensor in 0..1.

    Ink may be dark on light or light on dark, with or without alpha, on any canvas size.
    The ink is cropped, fitted into 20×20 keeping its aspect ratio, and centred by its centre of
    mass in 28×28, as in MNIST. Raises `ImageInputError` when there is no ink.
    """
    ink = _ink_map(open_image(source))
    if ink.max() < 0.15 or (ink > 0.5).sum() < 4:
        raise ImageInputError("The drawing is empty: draw a digit (or upload one) first.")

    rows = np.flatnonzero((ink > 0.15).any(axis=1))
    cols = np.flatnonzero((ink > 0.15).any(axis=0))
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]

    height, width = ink.shape
    scale = DIGIT_BOX / max(height, width)
    new_size = (max(1, round(height * scale)), max(1, round(width * scale)))
    fitted = F.interpolate(
        torch.from_numpy(ink)[None, None], size=new_size, mode="bilinear", antialias=True, align_corners=False
    )[0, 0].clamp(0, 1)
    fitted = fitted / fitted.max()

    canvas = torch.zeros(DIGIT_CANVAS, DIGIT_CANVAS)
    top, left = (DIGIT_CANVAS - new_size[0]) // 2, (DIGIT_CANVAS - new_size[1]) // 2
    canvas[top : top + new_size[0], left : left + new_size[1]] = fitted
    return _centre_by_mass(canvas)[None]


def _ink_map(image: Image.Image) -> np.ndarray:
    """Ink strength in 0..1 per pixel, whatever the polarity of the drawing."""
    if image.mode == "RGBA":
        alpha = np.asarray(image.getchannel("A"), dtype=np.float32) / 255.0
        if alpha.min() < 0.99:  # transparent background: the strokes are whatever is opaque
            return alpha
    gray = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    ink = gray - background if background < 0.5 else background - gray
    peak = ink.max()
    return np.clip(ink / peak, 0, 1) if peak > 0 else np.zeros_like(ink)


def _centre_by_mass(canvas: torch.Tensor) -> torch.Tensor:
    rows, cols = torch.meshgrid(torch.arange(DIGIT_CANVAS), torch.arange(DIGIT_CANVAS), indexing="ij")
    total = canvas.sum()
    shift_rows = round(DIGIT_CANVAS / 2 - 0.5 - float((rows * canvas).sum() / total))
    shift_cols = round(DIGIT_CANVAS / 2 - 0.5 - float((cols * canvas).sum() / total))
    shifted = torch.zeros_like(canvas)
    src_rows = slice(max(0, -shift_rows), DIGIT_CANVAS - max(0, shift_rows))
    dst_rows = slice(max(0, shift_rows), DIGIT_CANVAS - max(0, -shift_rows))
    src_cols = slice(max(0, -shift_cols), DIGIT_CANVAS - max(0, shift_cols))
    dst_cols = slice(max(0, shift_cols), DIGIT_CANVAS - max(0, -shift_cols))
    shifted[dst_rows, dst_cols] = canvas[src_rows, src_cols]
    return shifted


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.inference_mode()
def reconstruct(model: Autoencoder | VAE, images: torch.Tensor) -> torch.Tensor:
    """Encode and decode (B, 1, 28, 28) images; the VAE uses its posterior mean."""
    return model.decode(model.encode(images.to(_device(model)))).cpu()


@torch.inference_mode()
def sample(vae: VAE, count: int, seed: int) -> torch.Tensor:
    """Decode `count` latents drawn from the prior N(0, I) with a fixed seed: (count, 1, 28, 28)."""
    generator = torch.Generator().manual_seed(seed)  # on the CPU: the same digits on any device
    return vae.decode(torch.randn(count, vae.latent_dim, generator=generator).to(_device(vae))).cpu()


@torch.inference_mode()
def interpolate(model: Autoencoder | VAE, start: torch.Tensor, end: torch.Tensor, steps: int) -> torch.Tensor:
    """Decode `steps` evenly spaced points on the line between two images' latents."""
    latents = model.encode(torch.stack([start, end]).to(_device(model)))
    weights = torch.linspace(0, 1, steps, device=latents.device)[:, None]
    return model.decode((1 - weights) * latents[0] + weights * latents[1]).cpu()


def mean_squared_error(image: torch.Tensor, reference: torch.Tensor) -> float:
    return float(F.mse_loss(image, reference))
