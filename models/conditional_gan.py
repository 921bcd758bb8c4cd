"""A conditional GAN (Mirza & Osindero, 2014): faces with or without glasses, by label, from 100-d noise.

The book (Liu, *Learn Generative AI with PyTorch*, ch. 5) trains a conditional WGAN-GP: the label goes
into both networks as extra input channels, and the critic's loss has a gradient penalty, which needs a
second backward pass through the critic (and WGAN-GP usually trains the critic several times per
generator step). This suite trains on a CPU, so it uses a conditional DCGAN with the BCE loss instead:
one discriminator step per generator step and no double backward, on the suite's DCGAN (models/dcgan.py),
whose recipe (and width 32) is known to work on these faces.

How the label goes in:

- Generator: the suite's DCGAN generator, with the label (0 = without glasses, 1 = with) added at its
  8×8 stage: two learned (4w, 8, 8) maps, "without" and "with", of which the label picks a point on the
  straight line between them, are added to the 8×8 activations before their batch norm. So the label is
  continuous (0.3 is 30 % of the way from "without" to "with") and a slider can move one face from one
  to the other. It enters there and not with the noise (the book's way, and the usual one) because the
  4×4 stage, where a face's pose, shape, hair and background are laid out, then depends on the noise
  alone: the same noise with label 0 and label 1 gives the same person, with or without glasses. In a
  3-minute trial (32×32, width 16, from scratch), the label at the input changed the pixels away from the
  eyes 3× as much as at 8×8 (a mean change of 0.10-0.14 against 0.035-0.04, in 0..1), and of the seeds
  the attribute classifier read as women without glasses, it read 20-30 % as women with them, against
  45-70 % (it reads 65 % of real women with glasses as women); both learnt the glasses. The StyleGAN
  paper (Karras et al., 2019) also finds eyeglasses among what its 4²-8² styles control.
- Discriminator: projection (Miyato & Koyama, 2018). The DCGAN discriminator's last 4×4 convolution
  reads "real or fake" from its (8w, 4, 4) features; each label adds its own 4×4 kernel over the same
  features, so D(x, y) = shared head(x) + label head_y(x), and an image that looks real but not like its
  label (no glasses under label 1) is scored fake. That is cheaper and, in Miyato & Koyama's tests,
  stronger than feeding the label as extra input channels: the label meets the features that can tell
  glasses apart instead of raw pixels, and the convolutions stay those of the plain DCGAN.

The functions at the bottom (`generate`, `glasses_sweep`, `load_conditional_generator`) are what the
app calls; they return images as (B, 3, S, S) tensors in 0..1, with the noise of models.dcgan: seed s
gives the same noise in both models, and a gallery's faces come from `face_seeds`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from models.dcgan import NOISE_DIM, Discriminator, Generator, face_seeds, noise_for_seeds
from models.hub import StrictHubMixin, model_device

LABEL_STAGE = 5  # body.net[4] is the transposed convolution that makes the 8×8 stage
LABELS = ("without glasses", "with glasses")  # label 0 and label 1
HUB_METADATA = dict(
    library_name="pytorch",
    license="other",
    tags=["celeba", "conditional-gan", "gan", "generative-models-suite"],
)


class ConditionalGenerator(nn.Module, StrictHubMixin, **HUB_METADATA):
    """(noise (B, 100), glasses (B,) in 0..1) → images (B, 3, S, S) in -1..1.

    `body` is the DCGAN generator (the same weights' names, so a trained DCGAN can start it); body.net[:5]
    makes the (B, 4w, 8, 8) activations, before their batch norm, and body.net[5:] the rest.
    """

    def __init__(self, image_size: int = 64, width: int = 64, noise_dim: int = NOISE_DIM):
        super().__init__()
        self.image_size, self.width, self.noise_dim = image_size, width, noise_dim
        self.body = Generator(image_size=image_size, width=width, noise_dim=noise_dim)
        channels = self.body.net[LABEL_STAGE - 1].out_channels  # 4w: the 8×8 stage
        self.glasses_maps = nn.Parameter(torch.randn(2, channels, 8, 8) * 0.1)  # [0]: without, [1]: with

    def glasses_map(self, glasses: torch.Tensor) -> torch.Tensor:
        """(B,) labels in 0..1 → (B, 4w, 8, 8): the straight line from the "without" map to the "with" map."""
        without, with_ = self.glasses_maps
        return torch.lerp(without, with_, glasses.to(without.dtype)[:, None, None, None])

    def forward(self, noise: torch.Tensor, glasses: torch.Tensor | float) -> torch.Tensor:
        glasses = torch.as_tensor(glasses, device=noise.device).float().expand(noise.shape[0])
        activations = self.body.net[:LABEL_STAGE](noise)  # (B, 4w, 8, 8)
        return self.body.net[LABEL_STAGE:](activations + self.glasses_map(glasses).to(activations.dtype))


class ConditionalDiscriminator(nn.Module, StrictHubMixin, **HUB_METADATA):
    """(images (B, 3, S, S) in -1..1, labels (B,) of 0/1) → one real-vs-fake logit each, (B,).

    Both labels' logits come from the same features for the price of one: training uses that to also show
    it real faces under the wrong label (see training/train_conditional_gan.py).

    `body` is the DCGAN discriminator: body.net[:-2] gives the (8w, 4, 4) features, body.net[-2:] its
    shared 4×4 head; `projection` holds one more 4×4 kernel per label (see the module's docstring).
    """

    def __init__(self, image_size: int = 64, width: int = 64):
        super().__init__()
        self.image_size, self.width = image_size, width
        self.body = Discriminator(image_size=image_size, width=width)
        head = self.body.net[-2]  # Conv2d(8w, 1, 4): the shared head
        self.projection = nn.Embedding(2, head.in_channels * head.kernel_size[0] * head.kernel_size[1])
        nn.init.normal_(self.projection.weight, 0.0, 0.02)  # like every other DCGAN convolution

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The logit of each image under its label, (B,); or, without labels, under each label, (B, 2)."""
        features = self.body.net[:-2](images)  # (B, 8w, 4, 4)
        shared = self.body.net[-2:](features)  # (B,)
        both = shared[:, None] + (features.flatten(1) @ self.projection.weight.T).to(shared.dtype)  # (B, 2)
        return both if labels is None else both.gather(1, labels.long()[:, None])[:, 0]


# ----------------------------------------------------------------------------------------------
# Inference: what the app calls.


def _to_unit_range(images: torch.Tensor) -> torch.Tensor:
    return images.add(1).div(2).clamp(0, 1)


def _check_glasses(glasses: float) -> float:
    if not 0 <= glasses <= 1:
        raise ValueError(f"glasses must be between 0 (without) and 1 (with), got {glasses}")
    return float(glasses)


@torch.inference_mode()
def generate(
    generator: ConditionalGenerator, count: int, seed: int, glasses: float, noise_scale: float = 1.0
) -> torch.Tensor:
    """`count` faces, (count, 3, S, S) in 0..1, one per seed of `face_seeds(seed, count)`, with `glasses` in 0..1.

    The same seed gives the same people at every `glasses`: only the label changes. `noise_scale` is the
    truncation trick, as in models.dcgan.generate.
    """
    glasses = _check_glasses(glasses)
    noise = noise_for_seeds(face_seeds(seed, count), generator.noise_dim) * noise_scale
    device = model_device(generator)
    labels = torch.full((count,), glasses, device=device)
    return _to_unit_range(generator(noise.to(device), labels)).cpu()


@torch.inference_mode()
def glasses_sweep(generator: ConditionalGenerator, seed: int, steps: int, noise_scale: float = 1.0) -> torch.Tensor:
    """Seed `seed`'s face (the first of `generate(generator, count, seed, ...)`) as its label goes from 0 to 1
    in `steps` equal steps: (steps, 3, S, S) in 0..1, from "without glasses" to "with"."""
    if steps < 2:
        raise ValueError(f"a sweep needs at least 2 steps, got {steps}")
    noise = noise_for_seeds([seed], generator.noise_dim).expand(steps, -1) * noise_scale
    device = model_device(generator)
    labels = torch.linspace(0, 1, steps, device=device)
    return _to_unit_range(generator(noise.to(device), labels)).cpu()


def load_conditional_generator(folder: Path) -> ConditionalGenerator:
    """The app's load_fn: the generator from a Hub-layout folder (config.json + model.safetensors)."""
    return ConditionalGenerator.from_pretrained(folder).eval()


def load_conditional_discriminator(folder: Path) -> ConditionalDiscriminator:
    """The discriminator saved next to the generator, in `<folder>/discriminator/` (to resume or fine-tune)."""
    return ConditionalDiscriminator.from_pretrained(Path(folder) / "discriminator").eval()
