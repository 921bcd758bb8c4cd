"""Train the DCGAN face generator on CelebA faces.

    python -m training.train_dcgan                       # 64×64, width 32, 20 epochs: about 90 min on 2 CPU cores
    python -m training.train_dcgan --image-size 128 --push-to-hub you/celeba-dcgan-128
    accelerate launch -m training.train_dcgan            # several GPUs

The paper's recipe (BCE, Adam 2e-4 with β1 = 0.5, N(0, 0.02) init, batch norm, no pooling), plus two
changes for a small data set: one-sided label smoothing and horizontal flips (see `train_step`).

Writes a Hub-layout folder to --out-dir: the generator (config.json, model.safetensors, README.md
model card) and the discriminator in its discriminator/ subfolder, to resume or fine-tune from. Per
epoch, --run-dir gets a sample grid from fixed noise, the loss curves and a resumable checkpoint.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision.utils import save_image
from tqdm import tqdm

from models.dcgan import Discriminator, Generator, noise_for_seeds
from training.common import add_run_arguments, parse_run_arguments, plot_losses
from training.faces import FACES_DATA_NOTE, FaceDataset, add_face_arguments
from training.loop import TrainingRun, update

REAL_LABEL = 0.9  # one-sided label smoothing: real images are labelled 0.9, fakes stay 0
TINY_FACES = 64


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_face_arguments(parser, width_help="channels at full resolution (64 in the paper)")
    parser.add_argument("--beta1", type=float, default=0.5, help="Adam's β1 (0.5 in the paper; β2 stays 0.999)")
    add_run_arguments(parser, name="faces-dcgan", epochs=20, batch_size=64, lr=2e-4, tiny=f"{TINY_FACES} faces")
    return parse_run_arguments(parser, argv, "training.train_dcgan")


def train_step(
    generator: nn.Module,
    discriminator: nn.Module,
    optimizer_g: torch.optim.Optimizer,
    optimizer_d: torch.optim.Optimizer,
    real: torch.Tensor,
    accelerator: Accelerator,
) -> dict[str, float]:
    """One update of D, then one of G, on a batch of real images in -1..1; returns the figures to log.

    Two additions to the paper's recipe, both against the discriminator winning too easily on
    16,770 faces (then G's gradients vanish and training collapses):
    - horizontal flips: a mirrored face is still a face, and D sees twice as many distinct images;
    - one-sided label smoothing (Salimans et al., 2016): D aims at 0.9 for real images, so it is
      not rewarded for ever more confident logits. Fakes stay at 0: smoothing them too would leave
      D's optimum above 0 where there are only fakes, so G would no longer be pushed away from them.
    """
    flip = torch.rand(real.shape[0], device=real.device) < 0.5
    real = torch.where(flip[:, None, None, None], real.flip(3), real)
    noise = torch.randn(real.shape[0], accelerator.unwrap_model(generator).noise_dim, device=real.device)

    # Discriminator: real and fake in separate batches, so each gets its own batch-norm statistics.
    # accelerator.autocast() makes --mixed-precision work on CPU too: prepared models autocast only on GPUs.
    with accelerator.autocast():
        fake = generator(noise)
        real_logits = discriminator(real)
        fake_logits = discriminator(fake.detach())
        loss_d = F.binary_cross_entropy_with_logits(
            real_logits, torch.full_like(real_logits, REAL_LABEL)
        ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    update(optimizer_d, loss_d, accelerator)

    # Generator: the non-saturating loss, -log D(G(z)), against the just-updated discriminator.
    with accelerator.autocast():
        fooled_logits = discriminator(fake)
        loss_g = F.binary_cross_entropy_with_logits(fooled_logits, torch.ones_like(fooled_logits))
    update(optimizer_g, loss_g, accelerator)

    return {
        "generator": loss_g.item(),
        "discriminator": loss_d.item(),
        "D(x)": torch.sigmoid(real_logits.float()).mean().item(),
        "D(G(z))": torch.sigmoid(fake_logits.float()).mean().item(),
    }


@torch.no_grad()
def save_samples(generator: Generator, fixed_noise: torch.Tensor, path: Path) -> None:
    """The 8×8 grid of faces from the same noise every epoch, in eval mode as the app will run it."""
    generator.eval()
    save_image(generator(fixed_noise).add(1).div(2), path, nrow=8, padding=1)
    generator.train()


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    run = TrainingRun(args)  # first: the seed below decides the initial weights too
    accelerator = run.accelerator

    faces = FaceDataset(
        args.data_dir,
        image_size=args.image_size,
        split="train+val",  # no held-out metric for a GAN: train on every face but the test split
        limit=TINY_FACES if args.tiny else None,
        progress=run.is_main_process,
    )
    batch_size = min(args.batch_size, len(faces))
    loader = DataLoader(TensorDataset(faces.images), batch_size=batch_size, shuffle=True, drop_last=True)
    fixed_noise = noise_for_seeds(range(64)).to(accelerator.device)  # the app's seeds 0..63

    generator = Generator(image_size=args.image_size, width=args.width)
    discriminator = Discriminator(image_size=args.image_size, width=args.width)
    betas = (args.beta1, 0.999)
    optimizer_g = torch.optim.Adam(generator.parameters(), lr=args.lr, betas=betas)
    optimizer_d = torch.optim.Adam(discriminator.parameters(), lr=args.lr, betas=betas)
    run.track(generator=generator, discriminator=discriminator, optimizer_g=optimizer_g, optimizer_d=optimizer_d)
    start_epoch = run.resume() + 1

    generator, discriminator, optimizer_g, optimizer_d, loader = accelerator.prepare(
        generator, discriminator, optimizer_g, optimizer_d, loader
    )
    for epoch in range(start_epoch, args.epochs + 1):
        totals: dict[str, float] = {}
        progress = tqdm(loader, desc=f"epoch {epoch}/{args.epochs}", disable=not run.is_main_process)
        for batch, (images,) in enumerate(progress, start=1):
            real = images.float().div(127.5).sub(1)  # uint8 0..255 → -1..1, the range of G's tanh
            figures = train_step(generator, discriminator, optimizer_g, optimizer_d, real, accelerator)
            totals = {name: totals.get(name, 0.0) + value for name, value in figures.items()}
            progress.set_postfix({name: f"{total / batch:.3f}" for name, total in totals.items()})
        run.log(**{name: total / len(loader) for name, total in totals.items()})
        history = run.history
        summary = ", ".join(f"{name} {values[-1]:.3f}" for name, values in history.items())
        accelerator.print(f"epoch {epoch}: {summary}")

        if run.is_main_process:
            unwrapped_g = accelerator.unwrap_model(generator)
            save_samples(unwrapped_g, fixed_noise, args.run_dir / f"samples_epoch{epoch:03d}.png")
            outputs = {"D(x), real": history["D(x)"], "D(G(z)), fake": history["D(G(z))"]}
            plot_losses(outputs, args.run_dir / "discriminator_outputs.png", ylabel="mean D output")
        losses = {"generator": history["generator"], "discriminator": history["discriminator"]}
        run.save(epoch, plot={"history": losses, "ylabel": "BCE loss"})

    final = {name: values[-1] for name, values in run.history.items()}
    if run.is_main_process:
        export(
            accelerator.unwrap_model(generator),
            accelerator.unwrap_model(discriminator),
            run,
            final,
            faces_used=len(faces),
            epochs=len(run.history["generator"]),
        )
    return final


def export(
    generator: Generator,
    discriminator: Discriminator,
    run: TrainingRun,
    final: dict[str, float],
    *,
    faces_used: int,
    epochs: int,
) -> None:
    """Write the Hub-layout folder (generator, discriminator/ and the model card), and push it if asked."""
    args = run.args
    generator.save_pretrained(args.out_dir)
    discriminator.save_pretrained(args.out_dir / "discriminator")
    (args.out_dir / "discriminator" / "README.md").unlink(missing_ok=True)  # the card above covers both
    size, width = args.image_size, args.width
    results = {
        "generator loss, last epoch (BCE, -log D(G(z)))": f"{final['generator']:.3f}",
        "discriminator loss, last epoch (BCE, real + fake)": f"{final['discriminator']:.3f}",
        "mean D(x) on real faces, last epoch": f"{final['D(x)']:.3f}",
        "mean D(G(z)) on generated faces, last epoch": f"{final['D(G(z))']:.3f}",
    }
    faces = f"the first {faces_used} faces: a tiny smoke run" if args.tiny else f"{faces_used:,} faces"
    run.publish(
        args.out_dir,
        f"DCGAN {size}×{size}, width {width}, {epochs} epochs",
        title=f"CelebA DCGAN, {size}×{size} faces (generative models suite)",
        description=(
            f"A DCGAN (Radford et al., 2016) that draws {size}×{size} faces from 100-d N(0, I) noise: "
            f"a generator of transposed convolutions ({generator.net[1].out_channels} → {width} channels, "
            "batch norm, ReLU, tanh output) against a discriminator of strided convolutions (batch norm, "
            "LeakyReLU 0.2, one logit). The paper's recipe (BCE loss, Adam lr 2e-4 with β1 = 0.5, N(0, 0.02) "
            "init), plus two changes that keep the discriminator from winning outright on a small data set: "
            f"one-sided label smoothing (real faces labelled {REAL_LABEL}, fakes 0) and random horizontal "
            "flips of the real faces. The discriminator is in `discriminator/`, to resume or fine-tune.\n\n"
            "There is no held-out metric: judge the samples. Losses of a GAN measure the balance between "
            "the two networks, not image quality."
        ),
        license="other",
        tags=["celeba", "dcgan", "gan", "face-generation", "generative-models-suite"],
        data=(
            f"{FACES_DATA_NOTE}\n\nTrained on CelebA's train and validation partitions ({faces}, "
            f"{size}×{size}, the suite's central-square framing of the aligned crops). Because of CelebA's "
            "terms, these weights are for non-commercial research use only."
        ),
        training={
            "epochs": epochs,
            "image size": f"{size}×{size}",
            "width (channels at full resolution)": width,
            "batch size": args.batch_size,
            "optimizer": f"Adam, lr {args.lr}, betas ({args.beta1}, 0.999), for G and D",
            "stabilisers": f"one-sided label smoothing ({REAL_LABEL}), horizontal flips",
        },
        metrics=results,
        usage=(
            "from models.dcgan import Generator, generate\n"
            f'generator = Generator.from_pretrained("{args.push_to_hub or args.out_dir}")\n'
            f"faces = generate(generator, count=16, seed=0)  # (16, 3, {size}, {size}) in 0..1"
        ),
    )


if __name__ == "__main__":
    main()
