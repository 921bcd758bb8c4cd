"""DCGAN (Radford et al., 2016): a generator that draws faces from 100-d noise, and its discriminator.

The generator turns N(0, I) noise into (B, 3, S, S) images in -1..1 (tanh); the discriminator
returns one logit per image (train it with BCEWithLogits). Both are built for any power-of-two
image size: 64 doubles 4×4 four times, 128 five times, each block halving the channels on the
way up (G) and doubling them on the way down (D); `width` is the channel count at the
full-resolution end (64 in the paper).

The functions at the bottom (`generate`, `interpolate_seeds`, `animated_gif`, `load_generator`)
are what the app calls; they return images as (B, 3, S, S) tensors in 0..1.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from models.hub import StrictHubMixin, model_device
from models.imaging import tensor_to_image

NOISE_DIM = 100
HUB_METADATA = dict(library_name="pytorch", license="other", tags=["celeba", "dcgan", "gan", "generative-models-suite"])


def _doublings(image_size: int) -> int:
    """How many 2× steps lie between 4×4 and image_size×image_size (64 → 4, 128 → 5)."""
    if image_size < 16 or image_size & (image_size - 1):
        raise ValueError(f"image_size must be a power of two, at least 16; got {image_size}")
    return int(math.log2(image_size)) - 2


def init_dcgan_weights(module: nn.Module) -> None:
    """The paper's initialisation: convolutions from N(0, 0.02), batch-norm scales from N(1, 0.02)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class Generator(nn.Module, StrictHubMixin, **HUB_METADATA):
    """Noise (B, 100) → images (B, 3, S, S) in -1..1; shapes below are for S = 64, width w."""

    def __init__(self, image_size: int = 64, width: int = 64, noise_dim: int = NOISE_DIM):
        super().__init__()
        self.image_size, self.width, self.noise_dim = image_size, width, noise_dim
        doublings = _doublings(image_size)
        channels = width * 2 ** (doublings - 1)  # 8w at 64×64, 16w at 128×128
        layers: list[nn.Module] = [
            nn.Unflatten(1, (noise_dim, 1, 1)),  # (B, 100, 1, 1)
            nn.ConvTranspose2d(noise_dim, channels, 4, stride=1, padding=0, bias=False),  # (B, 8w, 4, 4)
            nn.BatchNorm2d(channels),
            nn.ReLU(True),
        ]
        for _ in range(doublings - 1):  # 8w×4² → 4w×8² → 2w×16² → w×32²
            layers += [
                nn.ConvTranspose2d(channels, channels // 2, 4, stride=2, padding=1, bias=False),  # (B, C/2, 2H, 2W)
                nn.BatchNorm2d(channels // 2),
                nn.ReLU(True),
            ]
            channels //= 2
        layers += [
            nn.ConvTranspose2d(channels, 3, 4, stride=2, padding=1, bias=False),  # (B, 3, 64, 64)
            nn.Tanh(),
        ]
        self.net = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return self.net(noise)


class Discriminator(nn.Module, StrictHubMixin, **HUB_METADATA):
    """Images (B, 3, S, S) in -1..1 → one real-vs-fake logit each, (B,); shapes for S = 64, width w."""

    def __init__(self, image_size: int = 64, width: int = 64):
        super().__init__()
        self.image_size, self.width = image_size, width
        doublings = _doublings(image_size)
        channels = width
        layers: list[nn.Module] = [
            nn.Conv2d(3, channels, 4, stride=2, padding=1, bias=False),  # (B, w, 32, 32); no batch norm on the input
            nn.LeakyReLU(0.2, True),
        ]
        for _ in range(doublings - 1):  # w×32² → 2w×16² → 4w×8² → 8w×4²
            layers += [
                nn.Conv2d(channels, channels * 2, 4, stride=2, padding=1, bias=False),  # (B, 2C, H/2, W/2)
                nn.BatchNorm2d(channels * 2),
                nn.LeakyReLU(0.2, True),
            ]
            channels *= 2
        layers += [
            nn.Conv2d(channels, 1, 4, stride=1, padding=0, bias=False),  # (B, 1, 1, 1)
            nn.Flatten(0),  # (B,)
        ]
        self.net = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)


# ----------------------------------------------------------------------------------------------
# Inference: what the app calls.


def noise_for_seeds(seeds: Sequence[int], noise_dim: int = NOISE_DIM) -> torch.Tensor:
    """One N(0, I) noise vector per seed, (len(seeds), noise_dim): a seed always gives the same face."""
    return torch.stack([torch.randn(noise_dim, generator=torch.Generator().manual_seed(int(seed))) for seed in seeds])


def face_seeds(seed: int, count: int) -> list[int]:
    """The seeds of a gallery's faces: `seed` itself, then seeds drawn from a generator seeded with it.

    So another seed gives a wholly new set of faces, the first face is the seed's own (the one a walk from
    that seed starts at), and asking for more faces adds faces without changing the first ones.
    """
    draw = random.Random(seed)
    return [seed] + [draw.randrange(2**31) for _ in range(count - 1)]


def _to_unit_range(images: torch.Tensor) -> torch.Tensor:
    return images.add(1).div(2).clamp(0, 1)


@torch.inference_mode()
def generate(generator: Generator, count: int, seed: int, noise_scale: float = 1.0) -> torch.Tensor:
    """`count` faces, (count, 3, S, S) in 0..1, one per seed of `face_seeds(seed, count)`.

    `noise_scale` is the truncation trick: below 1 the noise stays nearer the centre of the
    Gaussian, where the generator saw the most samples, so faces are cleaner but more alike;
    at 0 every seed gives the same "average" face.
    """
    noise = noise_for_seeds(face_seeds(seed, count), generator.noise_dim) * noise_scale
    device = model_device(generator)
    return _to_unit_range(generator(noise.to(device))).cpu()


def slerp(start: torch.Tensor, end: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between two vectors, one row per weight in 0..1: (len(weights), D)."""
    cosine = torch.dot(start, end) / (start.norm() * end.norm()).clamp_min(1e-12)
    angle = torch.arccos(cosine.clamp(-1, 1))
    weights = weights[:, None]
    if angle.abs() < 1e-4:  # (nearly) parallel vectors, or zero noise: slerp and lerp agree
        return (1 - weights) * start + weights * end
    start_weights = torch.sin((1 - weights) * angle) / torch.sin(angle)  # exactly 1 and 0 at the ends
    end_weights = torch.sin(weights * angle) / torch.sin(angle)
    return start_weights * start + end_weights * end


@torch.inference_mode()
def interpolate_seeds(
    generator: Generator, seed_a: int, seed_b: int, steps: int, noise_scale: float = 1.0
) -> torch.Tensor:
    """`steps` faces morphing from seed_a's face to seed_b's, (steps, 3, S, S) in 0..1.

    Why slerp and not a straight line: 100-d Gaussian noise lies almost entirely on a thin shell
    of radius about √100 = 10. The midpoint of a straight line between two such vectors has a
    radius of only about 10/√2 ≈ 7, a region the generator never saw in training, so the middle
    frames come out faded and blurry. Moving along the great circle keeps every frame on the shell.
    """
    ends = noise_for_seeds([seed_a, seed_b], generator.noise_dim)
    noise = slerp(ends[0], ends[1], torch.linspace(0, 1, steps)) * noise_scale
    device = model_device(generator)
    return _to_unit_range(generator(noise.to(device))).cpu()


def animated_gif(frames: torch.Tensor | Sequence[torch.Tensor], frame_ms: int = 100, scale: int = 1) -> bytes:
    """An endlessly looping GIF of (3, H, W) frames in 0..1 that plays forward and then back.

    Going there and back (1, 2, …, n, n-1, …, 2) makes the loop seamless: no jump from the last
    frame to the first. `scale` enlarges each frame with nearest neighbours.
    """
    frames = list(frames)
    if not frames:
        raise ValueError("an animated GIF needs at least one frame")
    there_and_back = frames + frames[-2:0:-1]
    pictures = [tensor_to_image(frame, scale=scale) for frame in there_and_back]
    buffer = io.BytesIO()
    pictures[0].save(
        buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=frame_ms, loop=0, optimize=False
    )
    return buffer.getvalue()


def save_animated_gif(
    frames: torch.Tensor | Sequence[torch.Tensor], path: Path, frame_ms: int = 100, scale: int = 1
) -> Path:
    """`animated_gif` written to a file (what a Gradio Image output can show); returns the path."""
    path = Path(path)
    path.write_bytes(animated_gif(frames, frame_ms=frame_ms, scale=scale))
    return path


def load_generator(folder: Path) -> Generator:
    """The app's load_fn: the generator from a Hub-layout folder (config.json + model.safetensors)."""
    return Generator.from_pretrained(folder).eval()


def load_discriminator(folder: Path) -> Discriminator:
    """The discriminator saved next to the generator, in `<folder>/discriminator/` (for fine-tuning)."""
    return Discriminator.from_pretrained(Path(folder) / "discriminator").eval()
