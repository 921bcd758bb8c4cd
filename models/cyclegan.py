"""Hair colour: a CycleGAN that turns black-haired faces blond and blond-haired faces black (CelebA, unpaired).

Two ResNet generators (Johnson et al. 2016, as in Zhu et al. 2017) translate between the domains, and two
70×70 PatchGAN discriminators judge each domain during training. The networks work on images in -1..1 (Tanh);
the functions at the bottom (`load_cyclegan`, `translate`, `round_trip`, `choose_direction`) take and return
(B, 3, S, S) tensors in 0..1 and are what the app calls.

Shipped layout: one model folder holding the pair, each generator a Hub-layout folder of its own, so either can
be loaded alone with `ResnetGenerator.from_pretrained(folder / "black_to_blond")`:

    hair-cyclegan/
        config.json            {"format": "hair-cyclegan", "image_size": 64, "directions": [...]}
        README.md              the model card of the pair
        black_to_blond/        config.json + model.safetensors (+ README.md)
        blond_to_black/        config.json + model.safetensors (+ README.md)

The discriminators are not shipped: inference does not need them, and they stay in the training checkpoint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from models.hub import StrictHubMixin, model_device

HUB_METADATA = dict(library_name="pytorch", license="other", tags=["celeba", "cyclegan", "generative-models-suite"])
DIRECTIONS = ("black_to_blond", "blond_to_black")
PAIR_FORMAT = "hair-cyclegan"


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),  # (B, C, H, W)
            nn.InstanceNorm2d(channels),
            nn.ReLU(),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),  # (B, C, H, W)
            nn.InstanceNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class ResnetGenerator(nn.Module, StrictHubMixin, **HUB_METADATA):
    """Image to image, (B, 3, S, S) in -1..1 to the same shape, for any S divisible by 4.

    A 7×7 stem, two stride-2 down-samplings (width → 2·width → 4·width channels), `residual_blocks` residual
    blocks at S/4, two up-samplings and a 7×7 Tanh head. The paper uses width 64 and 9 blocks at 256×256.
    """

    def __init__(self, width: int = 32, residual_blocks: int = 6):
        super().__init__()
        # Biases stay on: InstanceNorm here has no affine parameters of its own, as in the reference code.
        self.net = nn.Sequential(
            nn.ReflectionPad2d(3),
            nn.Conv2d(3, width, 7),  # (B, w, S, S)
            nn.InstanceNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),  # (B, 2w, S/2, S/2)
            nn.InstanceNorm2d(2 * width),
            nn.ReLU(),
            nn.Conv2d(2 * width, 4 * width, 3, stride=2, padding=1),  # (B, 4w, S/4, S/4)
            nn.InstanceNorm2d(4 * width),
            nn.ReLU(),
            *[ResidualBlock(4 * width) for _ in range(residual_blocks)],  # (B, 4w, S/4, S/4)
            nn.ConvTranspose2d(4 * width, 2 * width, 3, stride=2, padding=1, output_padding=1),  # (B, 2w, S/2, S/2)
            nn.InstanceNorm2d(2 * width),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 3, stride=2, padding=1, output_padding=1),  # (B, w, S, S)
            nn.InstanceNorm2d(width),
            nn.ReLU(),
            nn.ReflectionPad2d(3),
            nn.Conv2d(width, 3, 7),  # (B, 3, S, S)
            nn.Tanh(),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)


class PatchDiscriminator(nn.Module, StrictHubMixin, **HUB_METADATA):
    """The 70×70 PatchGAN: one real-vs-fake score (a logit-free LSGAN output) per overlapping patch.

    (B, 3, S, S) in -1..1 → (B, 1, S/8 - 2, S/8 - 2): 6×6 patches at 64×64, 30×30 at 256×256.
    """

    def __init__(self, width: int = 64, layers: int = 3):
        super().__init__()
        blocks: list[nn.Module] = [
            nn.Conv2d(3, width, 4, stride=2, padding=1),  # (B, w, S/2, S/2)
            nn.LeakyReLU(0.2),
        ]
        channels = width
        for layer in range(1, layers + 1):
            stride = 2 if layer < layers else 1  # the last one keeps the size, widening the receptive field
            out_channels = width * min(2**layer, 8)
            blocks += [
                nn.Conv2d(channels, out_channels, 4, stride=stride, padding=1),  # (B, 2w, S/4, S/4) (B, 4w, S/8, S/8)
                nn.InstanceNorm2d(out_channels),  # then (B, 8w, S/8 - 1, S/8 - 1)
                nn.LeakyReLU(0.2),
            ]
            channels = out_channels
        blocks.append(nn.Conv2d(channels, 1, 4, stride=1, padding=1))  # (B, 1, S/8 - 2, S/8 - 2)
        self.net = nn.Sequential(*blocks)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)


# ----------------------------------------------------------------------------------------------
# Training pieces: the losses of the paper and its pool of past fakes.


def adversarial_loss(predictions: torch.Tensor, real: bool) -> torch.Tensor:
    """Least-squares GAN loss: mean squared distance of the patch scores to 1 (real) or 0 (fake)."""
    target = torch.ones_like(predictions) if real else torch.zeros_like(predictions)
    return F.mse_loss(predictions, target)


def discriminator_loss(discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Real images towards 1, fakes towards 0; halved as in the paper, to slow D down relative to G."""
    return 0.5 * (adversarial_loss(discriminator(real), True) + adversarial_loss(discriminator(fake.detach()), False))


def generator_losses(
    black_to_blond: nn.Module,
    blond_to_black: nn.Module,
    judge_black: nn.Module,
    judge_blond: nn.Module,
    black: torch.Tensor,
    blond: torch.Tensor,
    cycle_weight: float = 10.0,
    identity_weight: float = 0.5,
) -> tuple[torch.Tensor, dict[str, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """The generators' objective on a batch of each domain; returns (total, its parts, (fake_blond, fake_black)).

    adversarial (LSGAN, each fake judged by its target domain's discriminator) + cycle_weight · L1 cycle
    + identity_weight · cycle_weight · L1 identity (a generator fed its own target domain should change nothing).
    """
    fake_blond = black_to_blond(black)
    fake_black = blond_to_black(blond)
    adversarial = adversarial_loss(judge_blond(fake_blond), True) + adversarial_loss(judge_black(fake_black), True)
    cycle = F.l1_loss(blond_to_black(fake_blond), black) + F.l1_loss(black_to_blond(fake_black), blond)
    identity = torch.zeros((), device=black.device)
    if identity_weight > 0:
        identity = F.l1_loss(black_to_blond(blond), blond) + F.l1_loss(blond_to_black(black), black)
    total = adversarial + cycle_weight * cycle + identity_weight * cycle_weight * identity
    parts = {"adversarial": adversarial.detach(), "cycle": cycle.detach(), "identity": identity.detach()}
    return total, parts, (fake_blond, fake_black)


class ImagePool:
    """The last `size` fakes a generator made; discriminators train on a mix of these and fresh ones.

    Until the pool is full every fake is stored and returned. Then each fake, with probability 1/2, is
    returned as is; otherwise it takes the place of a random stored fake, which is returned instead
    (Shrivastava et al. 2017). Draws use torch's global generator, so seeded runs are repeatable.
    """

    def __init__(self, size: int = 50):
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, fakes: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return fakes
        chosen = []
        for fake in fakes.detach():
            if len(self.images) < self.size:
                self.images.append(fake.clone())
                chosen.append(fake)
            elif torch.rand(()) < 0.5:
                slot = int(torch.randint(self.size, ()))
                chosen.append(self.images[slot])
                self.images[slot] = fake.clone()
            else:
                chosen.append(fake)
        return torch.stack(chosen)

    def state_dict(self) -> dict[str, torch.Tensor | int]:
        stored = torch.stack(self.images).cpu() if self.images else torch.empty(0)
        return {"size": self.size, "images": stored}

    def load_state_dict(self, state: dict, device: torch.device | str = "cpu") -> None:
        self.size = int(state["size"])
        self.images = [image.to(device) for image in state["images"]]


# ----------------------------------------------------------------------------------------------
# Saving and loading the pair.


@dataclass
class HairGenerators:
    """Both trained generators and the image size they were trained at (the app resizes inputs to it)."""

    black_to_blond: ResnetGenerator
    blond_to_black: ResnetGenerator
    image_size: int = 64

    def to(self, device: torch.device | str) -> HairGenerators:
        self.black_to_blond.to(device)
        self.blond_to_black.to(device)
        return self

    def generator(self, direction: str) -> ResnetGenerator:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
        return getattr(self, direction)


def save_cyclegan(folder: Path, generators: HairGenerators) -> None:
    """Write the pair in the layout described at the top of this file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for direction in DIRECTIONS:
        generators.generator(direction).save_pretrained(folder / direction)
        card = f"The {direction.replace('_to_', ' → ')} generator of the hair CycleGAN (model card: ../README.md).\n"
        (folder / direction / "README.md").write_text(card, encoding="utf-8")
    config = {"format": PAIR_FORMAT, "image_size": generators.image_size, "directions": list(DIRECTIONS)}
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def load_cyclegan(folder: Path) -> HairGenerators:
    """Load both generators strictly from safetensors, in eval mode: the app's `load_fn`."""
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if config.get("format") != PAIR_FORMAT:
        raise ValueError(f"{folder} is not a {PAIR_FORMAT} folder (config.json format: {config.get('format')!r})")
    loaded = {direction: ResnetGenerator.from_pretrained(folder / direction).eval() for direction in DIRECTIONS}
    return HairGenerators(**loaded, image_size=int(config["image_size"]))


# ----------------------------------------------------------------------------------------------
# Inference: what the app calls. Images are (B, 3, S, S) tensors in 0..1.


@torch.inference_mode()
def translate(generators: HairGenerators, images: torch.Tensor, direction: str) -> torch.Tensor:
    """Black hair to blond ("black_to_blond") or blond to black ("blond_to_black"); same shape out.

    Sides that are not a multiple of 4 are reflection-padded for the network and cropped back.
    """
    generator = generators.generator(direction)
    height, width = images.shape[-2:]
    images = images.to(model_device(generator))
    padded = F.pad(images * 2 - 1, (0, -width % 4, 0, -height % 4), mode="reflect")
    return ((generator(padded)[..., :height, :width] + 1) / 2).cpu()


def round_trip(generators: HairGenerators, images: torch.Tensor, direction: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(translated, translated back): the second should look like the input, which is what the cycle loss asks."""
    translated = translate(generators, images, direction)
    back = "blond_to_black" if direction == "black_to_blond" else "black_to_blond"
    return translated, translate(generators, translated, back)


# Automatic direction: the colour of the top of the head. CelebA's aligned crops put the hair above the
# forehead in the same place in every frame, so counting dark and blond-coloured pixels there works. Fitted on
# 2,000 training faces, the rule reads 94 % of the 165 held-out black-haired faces and 89 % of the 88 blond ones
# right. The discriminators are no alternative: each only learned real-vs-fake within its own domain.
HAIR_BAND_ROWS = (0.05, 0.30)  # fractions of the height: above the eyebrows
HAIR_BAND_COLUMNS = (0.30, 0.70)  # the central 40 % of the width: hair, not background
DARK_LUMINANCE = 0.20  # darker pixels count as black hair
BLOND_LUMINANCE = 0.35  # lighter pixels that are also warm count as blond
BLOND_WARMTH = 0.10  # red minus blue
BLOND_THRESHOLD = -0.10  # blond fraction minus dark fraction above this: the hair is blond
UNSURE_MARGIN = 0.10  # closer to the threshold than this: say it is a close call


@dataclass
class DirectionChoice:
    direction: str
    blond_fraction: float
    dark_fraction: float
    unsure: bool
    message: str


def hair_statistics(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Fractions of blond-coloured and of dark pixels in the hair band of each image: two (B,) tensors."""
    height, width = images.shape[-2:]
    band = images[
        :,
        :,
        int(HAIR_BAND_ROWS[0] * height) : max(int(HAIR_BAND_ROWS[1] * height), 1),
        int(HAIR_BAND_COLUMNS[0] * width) : max(int(HAIR_BAND_COLUMNS[1] * width), 1),
    ].float()
    red, green, blue = band[:, 0], band[:, 1], band[:, 2]
    luminance = 0.299 * red + 0.587 * green + 0.114 * blue
    blond = (luminance > BLOND_LUMINANCE) & (red - blue > BLOND_WARMTH)
    dark = luminance < DARK_LUMINANCE
    return blond.float().mean((1, 2)), dark.float().mean((1, 2))


def hair_looks_blond(images: torch.Tensor) -> torch.Tensor:
    """(B,) bool: whether the colour rule reads each face's hair as blond."""
    blond_fractions, dark_fractions = hair_statistics(images)
    return blond_fractions - dark_fractions > BLOND_THRESHOLD


def choose_direction(images: torch.Tensor) -> list[DirectionChoice]:
    """For each image, blond_to_black if its hair looks blond, else black_to_blond; with a sentence saying why."""
    blond_fractions, dark_fractions = hair_statistics(images)
    choices = []
    for blond, dark in zip(blond_fractions.tolist(), dark_fractions.tolist()):
        score = blond - dark - BLOND_THRESHOLD
        direction = "blond_to_black" if score > 0 else "black_to_blond"
        unsure = abs(score) < UNSURE_MARGIN
        looks = "blond" if score > 0 else "dark"
        message = (
            f"Automatic: {direction.replace('_to_', ' → ')}. The hair above the forehead looks {looks} "
            f"({blond:.0%} blond-coloured, {dark:.0%} dark pixels)"
            + (": a close call, pick the direction by hand if it is wrong." if unsure else ".")
        )
        choices.append(DirectionChoice(direction, blond, dark, unsure, message))
    return choices
