"""Face VAE: a convolutional VAE for CelebA faces and the book's "glasses arithmetic" (chapter 7).

The model takes and returns (B, 3, S, S) tensors in 0..1, S = `image_size` (64 shipped; any power of two
from 16 works) and has the digits VAE's interface: `encode_distribution`, `encode` (posterior mean),
`decode`, `forward -> (reconstruction, mu, logvar)`.

Attribute vectors: at the end of training, training/train_face_vae.py encodes the labelled training faces
and stores, in `attribute_vectors.safetensors` next to `model.safetensors`, the mean posterior mean of
four groups (`GROUPS`: men/women with/without glasses) and `glasses_direction`. The "with glasses" groups
keep clear glasses only: faces flagged `likely_sunglasses` in the suite's data are left out. Each group's
face count is in the file's metadata, with how the direction was made: the with-minus-without difference
averaged over men and women (`glasses_direction`), then, in models trained since the VAE/GAN, without its
component along the latent sex readout (`without_component`) and scaled so that the page's default strength
adds glasses (chosen on training faces).

`load_face_vae(folder)` loads the model with its vectors; the functions at the bottom (`reconstruct`,
`sample`, `interpolate`, `arithmetic`, `edit_glasses`, `PRESETS`) are what the app calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from models import vae
from models.hub import StrictHubMixin, model_device
from models.vae import GaussianVAE, kl_divergence

# CelebA is for non-commercial research only, so the weights carry no open licence.
HUB_METADATA = dict(library_name="pytorch", license="other", tags=["celeba", "vae", "generative-models-suite"])

GROUPS = ("men_with_glasses", "men_without_glasses", "women_with_glasses", "women_without_glasses")
GLASSES_DIRECTION = "glasses_direction"
VECTOR_NAMES = (*GROUPS, GLASSES_DIRECTION)
ATTRIBUTE_VECTORS_FILE = "attribute_vectors.safetensors"

# Squared error summed over pixels + KL_WEIGHT × KL. Faces are continuous-valued, so the reconstruction
# term is a Gaussian log-likelihood (squared error), not MNIST's BCE, which never reaches 0 on gray
# pixels and over-weights errors near black and white. With squared error, a KL weight β is the same as
# a Gaussian decoder of variance β/2. The book's β = 1 means σ ≈ 0.71 in 0..1 units: the decoder treats
# most facial detail as noise, the KL wins and every face decodes to a blurry average. β = 0.1 (σ ≈ 0.22)
# lets the decoder keep much more detail, while the KL still keeps the latent space smooth enough for
# prior samples, interpolation and attribute arithmetic, which a much lower β would leave patchy.
KL_WEIGHT = 0.1


class FaceVAE(GaussianVAE, nn.Module, StrictHubMixin, **HUB_METADATA):
    """Conv encoder → mu, logvar of a 100-d latent; mirrored transposed-conv decoder with sigmoid output.

    Each stride-2 stage halves the side and doubles the channels, down to 4×4; at 64×64 with width 32:
    (3, 64, 64) → (32, 32, 32) → (64, 16, 16) → (128, 8, 8) → (256, 4, 4). 128×128 adds one stage (512).
    """

    def __init__(self, image_size: int = 64, latent_dim: int = 100, width: int = 32):
        super().__init__()
        stages = round(math.log2(image_size)) - 2
        if image_size < 16 or 2 ** (stages + 2) != image_size:
            raise ValueError(f"image_size must be a power of two of at least 16, got {image_size}")
        self.image_size, self.latent_dim = image_size, latent_dim
        channels = [width * 2**stage for stage in range(stages)]  # [32, 64, 128, 256] at 64×64
        top = channels[-1]  # channels of the 4×4 feature map

        down = []
        for in_channels, out_channels in zip([3, *channels], channels):
            down += [nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1), nn.BatchNorm2d(out_channels)]
            down += [nn.LeakyReLU(0.2)]
        self.encoder = nn.Sequential(
            *down,  # (B, 256, 4, 4)
            nn.Flatten(),  # (B, 4096)
        )
        self.to_mu = nn.Linear(top * 16, latent_dim)  # (B, 100)
        self.to_logvar = nn.Linear(top * 16, latent_dim)  # (B, 100)

        up = []
        for in_channels, out_channels in zip(channels[:0:-1], channels[-2::-1]):
            up += [nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1)]
            up += [nn.BatchNorm2d(out_channels), nn.ReLU()]
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, top * 16),  # (B, 4096)
            nn.Unflatten(1, (top, 4, 4)),  # (B, 256, 4, 4)
            nn.BatchNorm2d(top),
            nn.ReLU(),
            *up,  # (B, 32, 32, 32)
            nn.ConvTranspose2d(channels[0], 3, 4, stride=2, padding=1),  # (B, 3, 64, 64)
            nn.Sigmoid(),
        )

    def encode_distribution(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(images)
        # logvar ≤ 0, smoothly: a posterior wider than the N(0, I) prior only adds noise and KL. Uncapped,
        # the first Adam steps (one 4096-input Linear) pushed logvar to 12-16 and the KL to 10^5 nats.
        logvar = -F.softplus(-self.to_logvar(hidden))
        return self.to_mu(hidden), logvar


def face_vae_loss(
    reconstruction: torch.Tensor,
    images: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    kl_weight: float = KL_WEIGHT,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(loss, squared error, KL), each per image (batch mean): squared error summed over pixels + kl_weight × KL.

    The KL, KL(q(z|x) || N(0, I)), is in nats. See KL_WEIGHT for the choice of terms.
    """
    batch = images.shape[0]
    squared_error = F.mse_loss(reconstruction.float(), images.float(), reduction="sum") / batch
    kl = kl_divergence(mu, logvar)
    return squared_error + kl_weight * kl, squared_error, kl


# ----------------------------------------------------------------------------------------------
# Attribute vectors: saved by the training script, loaded with the model.


def glasses_direction(group_means: dict[str, torch.Tensor]) -> torch.Tensor:
    """With glasses minus without, averaged over men and women.

    Glasses wearers in CelebA are about 3 men to 1 woman, so the plain "all with minus all without" would
    also carry a "more male" component; taking the difference within each gender cancels it.
    """
    men = group_means["men_with_glasses"] - group_means["men_without_glasses"]
    women = group_means["women_with_glasses"] - group_means["women_without_glasses"]
    return (men + women) / 2


def sex_readout(latents: torch.Tensor, male: torch.Tensor, ridge: float = 1e-3) -> torch.Tensor:
    """The latent direction that best tells men from women (Fisher's linear discriminant): (latent_dim,).

    `latents`: (N, latent_dim) posterior means; `male`: (N,) 0/1 labels. Σ⁻¹(mean of men − mean of women),
    Σ the pooled within-sex covariance (plus `ridge` on its diagonal, so that few faces still solve).
    """
    male = male.bool()
    men, women = latents[male], latents[~male]
    centred = torch.cat([men - men.mean(0), women - women.mean(0)]).double()
    covariance = centred.T @ centred / len(latents) + ridge * torch.eye(latents.shape[1], dtype=torch.float64)
    return torch.linalg.solve(covariance, (men.mean(0) - women.mean(0)).double()).float()


def without_component(direction: torch.Tensor, readout: torch.Tensor) -> torch.Tensor:
    """`direction` minus its component along `readout`, so that moving along it leaves readout · z unchanged.

    The glasses direction carries some "male" (in CelebA men wear glasses about 3 times as often, and
    the women with glasses look more like men to the encoder than the women without do): removing
    glasses then also made a face read as a woman. Taking out its component along the latent sex readout
    keeps the sex the latent space encodes where it was.
    """
    return direction - (direction @ readout) / (readout @ readout) * readout


def save_attribute_vectors(
    folder: Path,
    group_means: dict[str, torch.Tensor],
    group_sizes: dict[str, int],
    direction: torch.Tensor | None = None,
    notes: dict[str, str] | None = None,
) -> None:
    """Write the four group means and the glasses direction (by default `glasses_direction(group_means)`),
    with the group sizes and any `notes` (how the direction was made) as metadata."""
    vectors = {name: group_means[name].float().contiguous() for name in GROUPS}
    vectors[GLASSES_DIRECTION] = (glasses_direction(vectors) if direction is None else direction).float().contiguous()
    metadata = {f"count_{name}": str(group_sizes[name]) for name in GROUPS} | dict(notes or {})
    save_file(vectors, Path(folder) / ATTRIBUTE_VECTORS_FILE, metadata=metadata)


def load_attribute_vectors(folder: Path, latent_dim: int) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    """The vectors (each (latent_dim,)) and group sizes from a model folder; a clear error if unusable."""
    path = Path(folder) / ATTRIBUTE_VECTORS_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: the face VAE needs the attribute vectors that training.train_face_vae exports."
        )
    try:
        with safe_open(path, framework="pt") as file:
            vectors = {name: file.get_tensor(name) for name in file.keys()}
            metadata = file.metadata() or {}
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(f"{path} is corrupt or not a safetensors file ({error}).") from error
    missing = [name for name in VECTOR_NAMES if name not in vectors]
    if missing:
        raise ValueError(f"{path} lacks the attribute vectors {', '.join(missing)}.")
    for name in VECTOR_NAMES:
        if vectors[name].shape != (latent_dim,):
            raise ValueError(
                f"{path}: {name} has shape {tuple(vectors[name].shape)}, expected ({latent_dim},) for this model."
            )
        if not torch.isfinite(vectors[name]).all():
            raise ValueError(f"{path}: {name} contains NaN or infinite values.")
    group_sizes = {name: int(metadata[f"count_{name}"]) for name in GROUPS if f"count_{name}" in metadata}
    return {name: vectors[name].float() for name in VECTOR_NAMES}, group_sizes


@dataclass
class FaceVAEBundle:
    """What `load_face_vae` returns: the model (in eval mode) and its attribute vectors."""

    model: FaceVAE
    vectors: dict[str, torch.Tensor]  # VECTOR_NAMES → (latent_dim,)
    group_sizes: dict[str, int] = field(default_factory=dict)  # faces behind each group mean

    def to(self, device: torch.device | str) -> FaceVAEBundle:
        """Move the network; the vectors stay on the CPU, where the inference functions expect them."""
        self.model.to(device)
        return self


def load_face_vae(folder: Path) -> FaceVAEBundle:
    """Load a Hub-layout folder: config.json, model.safetensors (strictly) and attribute_vectors.safetensors."""
    model = FaceVAE.from_pretrained(Path(folder)).eval()
    vectors, group_sizes = load_attribute_vectors(folder, model.latent_dim)
    return FaceVAEBundle(model, vectors, group_sizes)


# ----------------------------------------------------------------------------------------------
# Inference: what the app calls. Images are tensors in 0..1: (B, 3, S, S) in and out, S = model.image_size.

PRESETS: dict[str, dict[str, float]] = {
    # The book's two:
    "man with glasses - man without + woman without = woman with glasses": {
        "men_with_glasses": 1.0,
        "men_without_glasses": -1.0,
        "women_without_glasses": 1.0,
    },
    "man with glasses - woman with glasses + woman without = man without glasses": {
        "men_with_glasses": 1.0,
        "women_with_glasses": -1.0,
        "women_without_glasses": 1.0,
    },
    # ... and their mirror images:
    "woman with glasses - woman without + man without = man with glasses": {
        "women_with_glasses": 1.0,
        "women_without_glasses": -1.0,
        "men_without_glasses": 1.0,
    },
    "woman with glasses - man with glasses + man without = woman without glasses": {
        "women_with_glasses": 1.0,
        "men_with_glasses": -1.0,
        "men_without_glasses": 1.0,
    },
    "halfway between a man with glasses and a woman without": {
        "men_with_glasses": 0.5,
        "women_without_glasses": 0.5,
    },
}


@torch.inference_mode()
def arithmetic(model: FaceVAE, vectors: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    """Decode the weighted sum of attribute vectors, e.g. one of `PRESETS`: (1, 3, S, S)."""
    unknown = sorted(set(weights) - set(vectors))
    if unknown:
        raise ValueError(f"Unknown attribute vectors {unknown}; known: {', '.join(vectors)}.")
    latent = torch.zeros(model.latent_dim)
    for name, weight in weights.items():
        latent = latent + weight * vectors[name].cpu()
    return model.decode(latent[None].to(model_device(model))).cpu()


@torch.inference_mode()
def edit_glasses(
    model: FaceVAE, vectors: dict[str, torch.Tensor], image: torch.Tensor, strength: float, in_photo: bool = False
) -> torch.Tensor:
    """Encode a (3, S, S) face or (B, 3, S, S) faces, add strength × glasses_direction, decode: (B, 3, S, S).

    Positive strengths put glasses on, negative ones take them off; 0 is the plain reconstruction.
    `in_photo`: apply the decoded change to the photo itself, photo + decode(z + d) − decode(z), clipped to
    0..1. What the decoder does not draw (the person's fine detail) stays as photographed, and only what
    the edit changes (the glasses) comes from the model.
    """
    images = image[None] if image.dim() == 3 else image
    latent = model.encode(images.to(model_device(model)))
    edited = model.decode(latent + strength * vectors[GLASSES_DIRECTION].to(latent.device))
    if not in_photo:
        return edited.cpu()
    change = edited - model.decode(latent)
    return (images.to(change.device) + change).clamp(0, 1).cpu()


# The shared VAE helpers, under this module's name (the app calls face_vae.reconstruct(...)). encode_faces
# gives latents to stand in for a group mean; decode_latents shows what a group mean looks like.
reconstruct, sample, interpolate = vae.reconstruct, vae.sample, vae.interpolate
encode_faces, decode_latents = vae.encode, vae.decode
