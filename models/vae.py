"""What the suite's VAEs share: the Gaussian encoder's interface, the reparameterisation trick, the KL term,
and the inference helpers the app calls (reconstruct, sample, interpolate, encode, decode).

A model using `GaussianVAE` sets `encoder` (images → features), `to_mu`, `to_logvar` (features → latent
statistics), `decoder` (latent → images) and `latent_dim`. The helpers also take any model with `encode`
and `decode`, such as the digits autoencoder.
"""

from __future__ import annotations

import torch
from torch import nn

from models.hub import model_device


class GaussianVAE:
    """encode → q(z|x) = N(mu, exp(logvar)); decode → images; forward samples z with the reparameterisation trick."""

    encoder: nn.Module
    to_mu: nn.Module
    to_logvar: nn.Module
    decoder: nn.Module
    latent_dim: int

    def encode_distribution(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(images)
        return self.to_mu(hidden), self.to_logvar(hidden)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """The posterior mean: the deterministic code used for reconstruction, interpolation and arithmetic."""
        return self.encode_distribution(images)[0]

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        return self.decoder(latent)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode_distribution(images)
        latent = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)  # reparameterisation trick
        return self.decode(latent), mu, logvar


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) in nats per image (batch mean)."""
    return -0.5 * torch.sum(1 + logvar.float() - mu.float().pow(2) - logvar.float().exp()) / mu.shape[0]


@torch.inference_mode()
def reconstruct(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Encode and decode (B, C, H, W) images (a VAE through its posterior mean)."""
    return model.decode(model.encode(images.to(model_device(model)))).cpu()


@torch.inference_mode()
def sample(model: nn.Module, count: int, seed: int) -> torch.Tensor:
    """Decode `count` latents drawn from the prior N(0, I) with a fixed seed: (count, C, H, W)."""
    generator = torch.Generator().manual_seed(seed)  # on the CPU: the same images on any device
    return model.decode(torch.randn(count, model.latent_dim, generator=generator).to(model_device(model))).cpu()


@torch.inference_mode()
def interpolate(model: nn.Module, start: torch.Tensor, end: torch.Tensor, steps: int) -> torch.Tensor:
    """Decode `steps` evenly spaced points on the line between two (C, H, W) images' latents."""
    latents = model.encode(torch.stack([start, end]).to(model_device(model)))
    weights = torch.linspace(0, 1, steps, device=latents.device)[:, None]
    return model.decode((1 - weights) * latents[0] + weights * latents[1]).cpu()


@torch.inference_mode()
def encode(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Latents (posterior means) of (B, C, H, W) images: (B, latent_dim)."""
    return model.encode(images.to(model_device(model))).cpu()


@torch.inference_mode()
def decode(model: nn.Module, latents: torch.Tensor) -> torch.Tensor:
    """(B, latent_dim) latents to (B, C, H, W) images."""
    return model.decode(latents.to(model_device(model))).cpu()
