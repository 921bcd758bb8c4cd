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

from models import vae
from models.hub import StrictHubMixin, model_device
from models.imaging import ImageInputError, open_image
from models.vae import GaussianVAE, kl_divergence

HUB_METADATA = dict(library_name="pytorch", license="cc-by-sa-3.0", tags=["mnist", "generative-models-suite"])


class Autoencoder(nn.Module, StrictHubMixin, **HUB_METADATA):
    """The book's dense autoencoder: 784 → 200 → 20 (latent) → 200 → 784, ReLU, sigmoid output."""

    def __init__(self, image_size: int = 28, hidden_dim: int = 200, latent_dim: int = 20):
        super().__init__()
        self.image_size = image_size
        pixels = image_size * image_size
        self.encoder = nn.Sequential(
            nn.Flatten(),  # (B, 784)
            nn.Linear(pixels, hidden_dim),  # (B, 200)
            nn.ReLU(),
            nn.Linear(hidden_dim, latent_dim),  # (B, 20)
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim),  # (B, 200)
            nn.ReLU(),
            nn.Linear(hidden_dim, pixels),  # (B, 784)
            nn.Sigmoid(),
        )

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder(images)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        return self.decoder(latent).view(-1, 1, self.image_size, self.image_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(images))


class VAE(GaussianVAE, nn.Module, StrictHubMixin, **HUB_METADATA):
    """A convolutional VAE with a 20-d latent; `decode` outputs Bernoulli means (sigmoid).

    `beta` is the weight of the KL term it was trained with (a β-VAE when it is not 1); it is kept in the
    config so that a loaded model says what it is.
    """

    def __init__(self, latent_dim: int = 20, channels: int = 32, hidden_dim: int = 256, beta: float = 1.0):
        super().__init__()
        self.latent_dim = latent_dim
        self.beta = beta
        self.encoder = nn.Sequential(
            nn.Conv2d(1, channels, 4, stride=2, padding=1),  # (B, 32, 14, 14)
            nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, 4, stride=2, padding=1),  # (B, 64, 7, 7)
            nn.ReLU(),
            nn.Flatten(),  # (B, 3136)
            nn.Linear(2 * channels * 7 * 7, hidden_dim),  # (B, 256)
            nn.ReLU(),
        )
        self.to_mu = nn.Linear(hidden_dim, latent_dim)  # (B, 20)
        self.to_logvar = nn.Linear(hidden_dim, latent_dim)  # (B, 20)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim),  # (B, 256)
            nn.ReLU(),
            nn.Linear(hidden_dim, 2 * channels * 7 * 7),  # (B, 3136)
            nn.ReLU(),
            nn.Unflatten(1, (2 * channels, 7, 7)),  # (B, 64, 7, 7)
            nn.ConvTranspose2d(2 * channels, channels, 4, stride=2, padding=1),  # (B, 32, 14, 14)
            nn.ReLU(),
            nn.ConvTranspose2d(channels, 1, 4, stride=2, padding=1),  # (B, 1, 28, 28)
            nn.Sigmoid(),
        )


def autoencoder_loss(reconstruction: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Mean squared error per pixel."""
    return F.mse_loss(reconstruction, images)


def vae_loss(
    reconstruction: torch.Tensor, images: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, beta: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The training loss, reconstruction + β·KL, and its two parts, in nats per image.

    Reconstruction: BCE summed over pixels; KL: KL(q(z|x) || N(0, I)). With β = 1 the loss is the negative
    ELBO; a larger β buys a simpler, more factorised code at the price of blurrier reconstructions (Higgins
    et al. 2017, "β-VAE"), a smaller one the reverse.
    """
    batch = images.shape[0]
    reconstruction_nats = F.binary_cross_entropy(reconstruction, images, reduction="sum") / batch
    kl_nats = kl_divergence(mu, logvar)
    return reconstruction_nats + beta * kl_nats, reconstruction_nats, kl_nats


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


# The shared VAE helpers, under this module's name (the app calls digits.reconstruct(...)); the autoencoder
# has the same encode/decode interface, so they serve it too.
reconstruct, sample, interpolate = vae.reconstruct, vae.sample, vae.interpolate


def mean_squared_error(image: torch.Tensor, reference: torch.Tensor) -> float:
    return float(F.mse_loss(image, reference))


def coordinate_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z_i|x) || N(0, 1)) of each latent coordinate, in nats: (B, latent_dim).

    A coordinate the model does not use for an image has a posterior equal to the prior and a KL near 0.
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)


@torch.inference_mode()
def digit_kl(model: VAE, images: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) of each of (B, 1, 28, 28) images, in nats: how much its code holds. (B,)"""
    mu, logvar = model.encode_distribution(images.to(model_device(model)))
    return coordinate_kl(mu, logvar).sum(1).cpu()


@torch.inference_mode()
def latent_traversal(
    model: VAE, digit: torch.Tensor, coordinates: int = 5, steps: int = 9, span: float = 3.0
) -> tuple[list[int], list[float], torch.Tensor]:
    """Decode a digit's latent with one coordinate swept from -span to +span, for its `coordinates` most used.

    The digit's other coordinates stay at its posterior mean. Coordinates are ranked by their KL for this
    digit (`coordinate_kl`): the ones its code relies on most come first.
    Returns the coordinates, their KL in nats, and the images (coordinates, steps, 1, 28, 28).
    """
    mu, logvar = model.encode_distribution(digit[None].to(model_device(model)))
    kl = coordinate_kl(mu, logvar)[0]
    ranked = torch.argsort(kl, descending=True)[:coordinates]
    values = torch.linspace(-span, span, steps, device=mu.device)
    latents = mu.repeat(len(ranked), steps, 1)  # (coordinates, steps, latent_dim)
    for row, coordinate in enumerate(ranked):
        latents[row, :, coordinate] = values
    images = model.decode(latents.flatten(0, 1)).cpu()
    return ranked.tolist(), kl[ranked].tolist(), images.view(len(ranked), steps, *images.shape[1:])
