"""Train the black ↔ blond hair CycleGAN on unpaired CelebA faces.

    python -m training.train_cyclegan --epochs 12 --decay-epochs 6           # again with --resume to continue
    python -m training.train_cyclegan --width 64 --residual-blocks 9 --image-size 128 --batch-size 1  # GPU
    python -m training.train_cyclegan --tiny --data-dir /tmp/faces            # smoke test

Domains: faces with Black_Hair = 1 and faces with Blond_Hair = 1 (the rare rows with both are left out).
The recipe of Zhu et al. 2017: least-squares GAN losses, cycle loss ×10, identity loss ×5, Adam (β1 = 0.5),
a pool of 50 past fakes per discriminator, a constant learning rate and then a linear decay over the last
--decay-epochs. An epoch is one pass over the larger domain; the smaller one is reshuffled as it runs out.

Writes the pair (see models/cyclegan.py for the layout) with its model card to --out-dir, and per-epoch
translation grids, loss curves and a resumable checkpoint (all four networks, both optimizers, schedulers
and fake pools) to --run-dir. With --resume, the same --epochs and --decay-epochs continue the same learning
rate schedule; a larger --epochs extends it from where the run stopped.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision.utils import save_image
from tqdm import tqdm

from models.cyclegan import (
    HairGenerators,
    ImagePool,
    PatchDiscriminator,
    ResnetGenerator,
    discriminator_loss,
    generator_losses,
    hair_looks_blond,
    save_cyclegan,
)
from training.common import add_run_arguments, parse_run_arguments, plot_losses
from training.faces import FACES_DATA_NOTE, FaceDataset, add_face_arguments, random_flip
from training.loop import TrainingRun, update

MAX_WEIGHTS_MIB = 25  # per shipped file
TINY_FACES, TINY_VAL_FACES = 64, 16  # per domain
GRID_FACES = 8  # per domain in the per-epoch figure
EVAL_BATCH = 32


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_face_arguments(parser, width_help="generator channels after the stem (paper: 64)")
    parser.add_argument("--residual-blocks", type=int, default=6, help="generator residual blocks (paper: 9)")
    parser.add_argument("--disc-width", type=int, default=64, help="discriminator channels of its first layer")
    parser.add_argument("--decay-epochs", type=int, help="the last epochs, lr decaying linearly (default epochs/2)")
    parser.add_argument("--cycle-weight", type=float, default=10.0)
    parser.add_argument("--identity-weight", type=float, default=0.5, help="times the cycle weight; 0 turns it off")
    parser.add_argument("--pool-size", type=int, default=50, help="past fakes kept per discriminator")
    parser.add_argument("--limit", type=int, help="at most this many training faces per domain")
    add_run_arguments(
        parser, name="hair-cyclegan", epochs=12, batch_size=4, lr=2e-4, tiny=f"{TINY_FACES} faces per domain"
    )
    args = parse_run_arguments(parser, argv, "training.train_cyclegan")
    args.decay_epochs = args.epochs // 2 if args.decay_epochs is None else args.decay_epochs
    args.limit = args.limit or (TINY_FACES if args.tiny else None)
    if args.image_size % 4 or args.image_size < 32:
        parser.error("--image-size must be a multiple of 4 and at least 32")
    if not 0 <= args.decay_epochs <= args.epochs:
        parser.error("--decay-epochs must be between 0 and --epochs")
    mib = sum(p.numel() for p in ResnetGenerator(args.width, args.residual_blocks).parameters()) * 4 / 2**20
    if mib > MAX_WEIGHTS_MIB:
        parser.error(
            f"a generator of width {args.width} with {args.residual_blocks} blocks is {mib:.1f} MiB, "
            f"over the {MAX_WEIGHTS_MIB} MiB per weights file the suite ships"
        )
    return args


def is_black(attributes: dict[str, int]) -> bool:
    return attributes["black_hair"] == 1 and attributes["blond_hair"] == 0


def is_blond(attributes: dict[str, int]) -> bool:
    return attributes["blond_hair"] == 1 and attributes["black_hair"] == 0


def load_domains(args: argparse.Namespace, split: str, limit: int | None) -> tuple[FaceDataset, FaceDataset]:
    black = FaceDataset(args.data_dir, args.image_size, split, keep=is_black, limit=limit)
    blond = FaceDataset(args.data_dir, args.image_size, split, keep=is_blond, limit=limit)
    return black, blond


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 to float -1..1."""
    return images.float() / 127.5 - 1


def endless(loader: DataLoader) -> Iterator[torch.Tensor]:
    while True:
        for (images,) in loader:
            yield images


def linear_decay(epochs: int, decay_epochs: int):
    """lr factor for the epoch after `finished` epochs: 1 for the first epochs - decay_epochs, then down linearly."""
    constant_epochs = epochs - decay_epochs
    return lambda finished: 1.0 - max(0, finished + 1 - constant_epochs) / (decay_epochs + 1)


@torch.no_grad()
def evaluate(
    black_to_blond: nn.Module, blond_to_black: nn.Module, black: torch.Tensor, blond: torch.Tensor, batch_size: int
) -> dict[str, float]:
    """Held-out figures, in 0..1 pixel units: cycle L1 (lower is better), how much a translation changes the face
    (an identity map has zero cycle error, so this must not be near 0), how often the translated hair gets the
    target colour by the colour rule of `choose_direction`, and how often that rule reads the inputs right."""
    black_to_blond.eval(), blond_to_black.eval()
    figures: dict[str, float] = {}
    for name, faces, forward, backward in (
        ("black", black, black_to_blond, blond_to_black),
        ("blond", blond, blond_to_black, black_to_blond),
    ):
        cycle = change = recoloured = 0.0
        direction_right = (hair_looks_blond(faces.float() / 255) == (name == "blond")).sum().item()
        for start in range(0, len(faces), batch_size):
            images = to_model_range(faces[start : start + batch_size])
            translated = forward(images)
            cycle += (backward(translated) - images).abs().mean((1, 2, 3)).sum().item() / 2
            change += (translated - images).abs().mean((1, 2, 3)).sum().item() / 2
            recoloured += (hair_looks_blond((translated.float() + 1) / 2) == (name == "black")).sum().item()
        figures[f"cycle_l1_{name}"] = cycle / len(faces)
        figures[f"change_l1_{name}"] = change / len(faces)
        figures[f"recoloured_{name}"] = recoloured / len(faces)
        figures[f"auto_direction_right_{name}"] = direction_right / len(faces)
    count = len(black) + len(blond)
    figures["cycle_l1"] = (figures["cycle_l1_black"] * len(black) + figures["cycle_l1_blond"] * len(blond)) / count
    return figures


@torch.no_grad()
def save_grid(
    black_to_blond: nn.Module, blond_to_black: nn.Module, black: torch.Tensor, blond: torch.Tensor, path: Path
) -> None:
    """Rows: black-haired inputs, made blond, and back; blond inputs, made black-haired, and back."""
    black_to_blond.eval(), blond_to_black.eval()
    rows = []
    for faces, forward, backward in ((black, black_to_blond, blond_to_black), (blond, blond_to_black, black_to_blond)):
        images = to_model_range(faces)
        translated = forward(images)
        rows += [images, translated, backward(translated)]
    save_image(torch.cat(rows).float().add(1).div(2), path, nrow=len(black))


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    run = TrainingRun(args)  # first: the seed below decides the initial weights too
    accelerator = run.accelerator

    train_black, train_blond = load_domains(args, "train", args.limit)
    val_black, val_blond = load_domains(args, "val", TINY_VAL_FACES if args.tiny else None)
    domain_counts = {
        "black train": len(train_black),
        "blond train": len(train_blond),
        "black val": len(val_black),
        "blond val": len(val_blond),
    }
    female_share = {
        name: 1 - float(data.labels("male").float().mean())
        for name, data in (("black", train_black), ("blond", train_blond))
    }
    accelerator.print(f"faces: {domain_counts}")
    batch_size = min(args.batch_size, len(train_black), len(train_blond))
    black_loader = DataLoader(TensorDataset(train_black.images), batch_size=batch_size, shuffle=True, drop_last=True)
    blond_loader = DataLoader(TensorDataset(train_blond.images), batch_size=batch_size, shuffle=True, drop_last=True)
    grid_black, grid_blond = val_black.images[:GRID_FACES], val_blond.images[:GRID_FACES]
    grid_count = min(len(grid_black), len(grid_blond))
    grid_black, grid_blond = grid_black[:grid_count], grid_blond[:grid_count]

    # judge_black tells real black-haired faces from blond_to_black's fakes; judge_blond likewise.
    black_to_blond = ResnetGenerator(args.width, args.residual_blocks)
    blond_to_black = ResnetGenerator(args.width, args.residual_blocks)
    judge_black, judge_blond = PatchDiscriminator(args.disc_width), PatchDiscriminator(args.disc_width)
    generator_parameters = [*black_to_blond.parameters(), *blond_to_black.parameters()]
    judge_parameters = [*judge_black.parameters(), *judge_blond.parameters()]
    optimizer_g = torch.optim.Adam(generator_parameters, lr=args.lr, betas=(0.5, 0.999))
    optimizer_d = torch.optim.Adam(judge_parameters, lr=args.lr, betas=(0.5, 0.999))
    # Stepped once per epoch, so not handed to accelerate (which steps schedulers once per batch).
    schedule = linear_decay(args.epochs, args.decay_epochs)
    scheduler_g = torch.optim.lr_scheduler.LambdaLR(optimizer_g, schedule)
    scheduler_d = torch.optim.lr_scheduler.LambdaLR(optimizer_d, schedule)
    pool_black, pool_blond = ImagePool(args.pool_size), ImagePool(args.pool_size)

    run.track(
        black_to_blond=black_to_blond,
        blond_to_black=blond_to_black,
        judge_black=judge_black,
        judge_blond=judge_blond,
        optimizer_g=optimizer_g,
        optimizer_d=optimizer_d,
        scheduler_g=scheduler_g,
        scheduler_d=scheduler_d,
    )
    start_epoch = run.resume() + 1
    seconds_per_pair = run.saved.get("seconds_per_pair", float("nan"))
    val_history = run.saved.get("val_history", {"val cycle L1": [], "val change L1": []})
    if start_epoch > 1:
        # The saved lr followed the old run's schedule; --epochs or --decay-epochs may have changed since.
        for scheduler in (scheduler_g, scheduler_d):
            for group, base_lr in zip(scheduler.optimizer.param_groups, scheduler.base_lrs):
                group["lr"] = base_lr * schedule(scheduler.last_epoch)
        # Extra values, not tracked states: the stored fakes must go back on the device the new ones are made on.
        pool_black.load_state_dict(run.saved["pool_black"], accelerator.device)
        pool_blond.load_state_dict(run.saved["pool_blond"], accelerator.device)

    black_to_blond, blond_to_black, judge_black, judge_blond, optimizer_g, optimizer_d, black_loader, blond_loader = (
        accelerator.prepare(
            black_to_blond,
            blond_to_black,
            judge_black,
            judge_blond,
            optimizer_g,
            optimizer_d,
            black_loader,
            blond_loader,
        )
    )
    unwrapped = [accelerator.unwrap_model(model) for model in (black_to_blond, blond_to_black)]
    val_images = (val_black.images.to(accelerator.device), val_blond.images.to(accelerator.device))
    val_figures: dict[str, float] = {}
    for epoch in range(start_epoch, args.epochs + 1):
        black_to_blond.train(), blond_to_black.train()  # evaluate() and save_grid() leave them in eval mode
        steps = max(len(black_loader), len(blond_loader))
        black_batches, blond_batches = endless(black_loader), endless(blond_loader)
        sums: dict[str, float] = {}
        started = time.time()
        progress = tqdm(range(steps), desc=f"epoch {epoch}/{args.epochs}", disable=not run.is_main_process)
        for step in progress:
            black = random_flip(to_model_range(next(black_batches)))
            blond = random_flip(to_model_range(next(blond_batches)))

            # Generators: the discriminators only pass gradients through, so spare computing their own.
            judge_black.requires_grad_(False), judge_blond.requires_grad_(False)
            loss_g, parts, (fake_blond, fake_black) = generator_losses(
                black_to_blond,
                blond_to_black,
                judge_black,
                judge_blond,
                black,
                blond,
                args.cycle_weight,
                args.identity_weight,
            )
            update(optimizer_g, loss_g, accelerator)

            # Discriminators: real faces against a mix of fresh and pooled fakes.
            judge_black.requires_grad_(True), judge_blond.requires_grad_(True)
            loss_d = discriminator_loss(judge_black, black, pool_black.query(fake_black)) + discriminator_loss(
                judge_blond, blond, pool_blond.query(fake_blond)
            )
            update(optimizer_d, loss_d, accelerator)

            for name, value in (*parts.items(), ("discriminator", loss_d.detach())):
                sums[name] = sums.get(name, 0.0) + value.item()
            progress.set_postfix({name: f"{total / (step + 1):.3f}" for name, total in sums.items()})
        seconds_per_pair = (time.time() - started) / (steps * black.shape[0])
        scheduler_g.step(), scheduler_d.step()
        run.log(**{name: total / steps for name, total in sums.items()})

        if run.is_main_process:  # the held-out faces are few (~250): one process is enough
            val_figures = evaluate(*unwrapped, *val_images, EVAL_BATCH)
            val_history["val cycle L1"].append(val_figures["cycle_l1"])
            val_history["val change L1"].append((val_figures["change_l1_black"] + val_figures["change_l1_blond"]) / 2)
            accelerator.print(
                f"epoch {epoch}: "
                + ", ".join(f"{name} {values[-1]:.4f}" for name, values in run.history.items())
                + f"; held out: {', '.join(f'{name} {value:.4f}' for name, value in val_figures.items())}"
                + f"; {seconds_per_pair * 1000:.0f} ms per image pair"
            )
            save_grid(
                *unwrapped,
                grid_black.to(accelerator.device),
                grid_blond.to(accelerator.device),
                args.run_dir / f"translations_epoch{epoch:03d}.png",
            )
            plot_losses(val_history, args.run_dir / "val.png", ylabel="L1 per pixel (0..1)")
        run.save(
            epoch,
            pool_black=pool_black.state_dict(),
            pool_blond=pool_blond.state_dict(),
            val_history=val_history,
            seconds_per_pair=seconds_per_pair,
        )
        accelerator.wait_for_everyone()

    if run.is_main_process:
        if not val_figures:  # resumed a finished run: just re-export
            val_figures = evaluate(*unwrapped, *val_images, EVAL_BATCH)
        export(
            HairGenerators(*unwrapped, image_size=args.image_size),
            run,
            val_figures,
            faces={"counts": domain_counts, "female_share": female_share, "seconds_per_pair": seconds_per_pair},
        )
    return val_figures


def export(
    generators: HairGenerators,
    run: TrainingRun,
    metrics: dict[str, float],
    faces: dict,
) -> None:
    """Write the pair with its model card, check the file sizes, and push it if asked.

    `faces`: how many faces each domain had ("counts"), the share of women in each ("female_share"), and the
    training speed ("seconds_per_pair").
    """
    args = run.args
    epochs = len(run.history["cycle"])
    generators = HairGenerators(
        *(model.cpu().eval() for model in (generators.black_to_blond, generators.blond_to_black)),
        image_size=generators.image_size,
    )
    save_cyclegan(args.out_dir, generators)
    for weights in args.out_dir.glob("*/model.safetensors"):
        mib = weights.stat().st_size / 2**20
        if mib > MAX_WEIGHTS_MIB:
            raise RuntimeError(f"{weights} is {mib:.1f} MiB, over the {MAX_WEIGHTS_MIB} MiB limit")
    counts = faces["counts"]
    results = {
        "held-out cycle L1 per pixel (0..1), both directions": f"{metrics['cycle_l1']:.4f}",
        "cycle L1 black → blond → black / blond → black → blond": (
            f"{metrics['cycle_l1_black']:.4f} / {metrics['cycle_l1_blond']:.4f}"
        ),
        "mean change made by the translation, L1 per pixel (black → blond / blond → black)": (
            f"{metrics['change_l1_black']:.4f} / {metrics['change_l1_blond']:.4f}"
        ),
        "translated hair that the colour rule reads as the target colour (→ blond / → black)": (
            f"{metrics['recoloured_black']:.0%} / {metrics['recoloured_blond']:.0%}"
        ),
        "automatic direction (colour rule) right on the inputs (black-haired / blond)": (
            f"{metrics['auto_direction_right_black']:.0%} / {metrics['auto_direction_right_blond']:.0%}"
        ),
        "held-out faces": f"{counts['black val']} black-haired, {counts['blond val']} blond",
    }
    data = (
        f"{FACES_DATA_NOTE}\n\n"
        f"Unpaired domains at {args.image_size}×{args.image_size}: {counts['black train']:,} training faces with "
        f"Black_Hair = 1 and {counts['blond train']:,} with Blond_Hair = 1 (rows with both left out"
        + (f"; a tiny smoke run on at most {args.limit} faces per domain" if args.limit else "")
        + "); held-out figures on the official validation partition. "
        f"**Bias:** in CelebA, blond hair is mostly female ({faces['female_share']['blond']:.0%} of the blond training "
        f"faces here, against {faces['female_share']['black']:.0%} of the black-haired ones), so the model may learn "
        "gender cues (softer features, make-up) along with hair colour, and may alter faces beyond the hair."
    )
    run.publish(
        args.out_dir,
        f"Hair CycleGAN: cycle L1 {metrics['cycle_l1']:.4f}",
        title="Black ↔ blond hair CycleGAN (generative models suite)",
        description=(
            "Two ResNet generators (reflection padding, instance norm, two stride-2 down-samplings, "
            f"{args.residual_blocks} residual blocks at width {4 * args.width}, two up-samplings, Tanh), trained "
            f"against two 70×70 PatchGAN discriminators (width {args.disc_width}) as in Zhu et al. 2017, "
            "*Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks*. "
            "`black_to_blond/` and `blond_to_black/` each hold one generator; the discriminators are not shipped. "
            "Licence: the weights derive from CelebA, whose terms allow non-commercial research use only."
        ),
        license="other",
        tags=["celeba", "cyclegan", "image-to-image", "generative-models-suite"],
        data=data,
        training={
            "image size": args.image_size,
            "generator": f"width {args.width}, {args.residual_blocks} residual blocks",
            "discriminator": f"PatchGAN, width {args.disc_width}",
            "epochs": f"{epochs} (learning rate decaying linearly over the last {args.decay_epochs})",
            "batch size": args.batch_size,
            "optimizer": f"Adam, lr {args.lr}, betas (0.5, 0.999)",
            "losses": (
                f"LSGAN + {args.cycle_weight:g} × cycle L1 + {args.identity_weight * args.cycle_weight:g} × identity L1"
            ),
            "fake pool": f"{args.pool_size} per discriminator",
            "speed (last epoch)": f"{faces['seconds_per_pair'] * 1000:.0f} ms per image pair",
        },
        metrics=results,
        usage=(
            "from models.cyclegan import load_cyclegan, round_trip, translate\n"
            f'generators = load_cyclegan("{args.out_dir}")  # a local copy of this repo\n'
            f"# faces: (B, 3, {args.image_size}, {args.image_size}) in 0..1\n"
            'blond = translate(generators, faces, "black_to_blond")\n'
            'black, back_to_blond = round_trip(generators, blond_faces, "blond_to_black")'
        ),
    )


if __name__ == "__main__":
    main()
