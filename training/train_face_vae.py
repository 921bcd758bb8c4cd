"""Train the face VAE on CelebA faces, then compute its attribute vectors for the glasses arithmetic.

    OMP_NUM_THREADS=2 python -m training.train_face_vae --epochs 40   # 2 CPU cores: about an hour
    python -m training.train_face_vae --tiny                            # a smoke test: ~200 faces, 1 epoch
    python -m training.train_face_vae --image-size 128 --width 64 --push-to-hub you/celeba-vae-128   # a GPU
    accelerate launch -m training.train_face_vae                        # several GPUs

Writes a Hub-layout folder (config.json, model.safetensors, attribute_vectors.safetensors, README.md model
card) to --out-dir, and per-epoch grids, the loss curve and a resumable checkpoint to --run-dir.
CelebA is for non-commercial research only: the images are read from --data-dir and never copied.
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch.utils.data import DataLoader
from torchvision.utils import save_image
from tqdm import tqdm

from models.face_vae import ATTRIBUTE_VECTORS_FILE, GROUPS, KL_WEIGHT, FaceVAE, face_vae_loss, save_attribute_vectors
from training.common import (
    Timer,
    add_run_arguments,
    describe_device,
    format_duration,
    load_checkpoint,
    parse_run_arguments,
    plot_losses,
    push_to_hub,
    save_checkpoint,
    write_model_card,
)
from training.faces import DEFAULT_FACES_DIR, FACES_DATA_NOTE, FaceDataset

TINY_FACES_PER_GROUP = 40  # --tiny: the first 40 training faces of each group (sunglasses too): ≤ 200 faces
TINY_VAL_FACES = 64


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_FACES_DIR, help="faces folder (suite or CelebA)")
    parser.add_argument("--image-size", type=int, default=64, help="side of the square faces (64 or 128)")
    parser.add_argument("--width", type=int, default=32, help="channels of the first conv (doubling per stage)")
    parser.add_argument("--latent-dim", type=int, default=100)
    parser.add_argument("--kl-weight", type=float, default=KL_WEIGHT, help="weight of the KL term (β)")
    add_run_arguments(
        parser, name="faces-vae", epochs=40, batch_size=64, lr=1e-3, tiny=f"{TINY_FACES_PER_GROUP} faces per group"
    )
    return parse_run_arguments(parser, argv, "training.train_face_vae")


def face_group(attributes: dict[str, int]) -> str | None:
    """Which of GROUPS a labelled face belongs to; None for likely sunglasses.

    CelebA's Eyeglasses counts sunglasses, which would make the "with glasses" means partly dark glasses.
    The suite's data flags those (`likely_sunglasses`, a heuristic); they are trained on but left out of
    the attribute vectors. The official CelebA layout has no such flag, so there sunglasses stay in.
    """
    if attributes["eyeglasses"] and attributes["likely_sunglasses"]:
        return None
    people = "men" if attributes["male"] else "women"
    return f"{people}_with_glasses" if attributes["eyeglasses"] else f"{people}_without_glasses"


def first_of_each_group(count: int) -> Callable[[dict[str, int]], bool]:
    """A FaceDataset `keep` filter taking the first `count` faces of each group, so tiny runs have all four."""
    taken: Counter[str | None] = Counter()

    def keep(attributes: dict[str, int]) -> bool:
        group = face_group(attributes)
        taken[group] += 1
        return taken[group] <= count

    return keep


def compute_loss(model, images: torch.Tensor, kl_weight: float) -> tuple[torch.Tensor, dict[str, float]]:
    """The training loss and the figures to log; works on an accelerate-wrapped model too."""
    reconstruction, mu, logvar = model(images)
    loss, squared_error, kl = face_vae_loss(reconstruction, images, mu, logvar, kl_weight)
    return loss, {"loss": loss.item(), "squared_error": squared_error.item(), "kl": kl.item()}


@torch.no_grad()
def evaluate(model, loader: DataLoader, accelerator: Accelerator, kl_weight: float) -> dict[str, float]:
    """Held-out figures over the whole val split (all processes).

    "loss" and "kl" use one latent sample per face (fixed noise); "mse" is the per-pixel error of the
    posterior-mean reconstruction, the one the app shows.
    """
    vae = accelerator.unwrap_model(model)
    vae.eval()
    generator = torch.Generator().manual_seed(1234)  # a local generator: training's random stream is untouched
    totals: dict[str, torch.Tensor] = {}
    count = torch.zeros((), device=accelerator.device)
    for images, _ in loader:
        with accelerator.autocast():
            mu, logvar = vae.encode_distribution(images)
            noise = torch.randn(mu.shape, generator=generator).to(mu.device)
            sampled = vae.decode(mu + noise * torch.exp(0.5 * logvar))
            mean_reconstruction = vae.decode(mu)
        loss, _, kl = face_vae_loss(sampled, images, mu, logvar, kl_weight)
        figures = {"loss": loss, "kl": kl, "mse": F.mse_loss(mean_reconstruction.float(), images)}
        for name, value in figures.items():
            totals[name] = totals.get(name, torch.zeros((), device=accelerator.device)) + value * len(images)
        count += len(images)
    count = accelerator.reduce(count, "sum")
    vae.train()
    return {name: float(accelerator.reduce(total, "sum") / count) for name, total in totals.items()}


@torch.no_grad()
def save_figures(vae: FaceVAE, faces: torch.Tensor, noise: torch.Tensor, epoch: int, run_dir: Path) -> None:
    """Rows of val faces, each over its reconstruction; and 64 samples from the same noise every epoch."""
    vae.eval()
    per_row = min(8, len(faces))
    faces = faces[: len(faces) // per_row * per_row]
    reconstruction = vae.decode(vae.encode(faces))
    rows = torch.stack([faces.unflatten(0, (-1, per_row)), reconstruction.unflatten(0, (-1, per_row))], dim=1)
    save_image(rows.flatten(0, 2), run_dir / f"reconstructions_epoch{epoch:03d}.png", nrow=per_row)
    save_image(vae.decode(noise), run_dir / f"samples_epoch{epoch:03d}.png", nrow=8)
    vae.train()


@torch.no_grad()
def group_means(
    vae: FaceVAE, faces: FaceDataset, device: torch.device, batch_size: int = 256
) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    """The mean posterior mean of each group's faces, and how many faces each mean is over."""
    vae.eval()
    group_index = torch.tensor([GROUPS.index(g) if g else -1 for g in map(face_group, faces.attributes)])
    sums = torch.zeros(len(GROUPS), vae.latent_dim)
    for start in range(0, len(faces), batch_size):
        images = faces.images[start : start + batch_size].float().div(255).to(device)
        mu = vae.encode(images).float().cpu()
        index = group_index[start : start + batch_size]
        sums.index_add_(0, index[index >= 0], mu[index >= 0])
    counts = torch.bincount(group_index[group_index >= 0], minlength=len(GROUPS))
    empty = [name for name, size in zip(GROUPS, counts.tolist()) if size == 0]
    if empty:
        raise ValueError(f"No training faces in the groups {', '.join(empty)}: the attribute vectors need all four.")
    means = {name: sums[index] / counts[index] for index, name in enumerate(GROUPS)}
    return means, dict(zip(GROUPS, counts.tolist()))


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    accelerator = Accelerator(mixed_precision=args.mixed_precision)
    set_seed(args.seed)
    args.run_dir.mkdir(parents=True, exist_ok=True)

    progress_bars = accelerator.is_main_process
    keep = first_of_each_group(TINY_FACES_PER_GROUP) if args.tiny else None
    train_set = FaceDataset(args.data_dir, args.image_size, "train", keep=keep, progress=progress_bars)
    val_set = FaceDataset(
        args.data_dir, args.image_size, "val", limit=TINY_VAL_FACES if args.tiny else None, progress=progress_bars
    )
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, drop_last=True)
    if len(train_loader) == 0:
        raise ValueError(f"{len(train_set)} training faces do not fill one batch of {args.batch_size}.")
    val_loader = DataLoader(val_set, batch_size=256)
    fixed_faces = val_set.images[:32].float().div(255).to(accelerator.device)
    fixed_noise = torch.randn(64, args.latent_dim, generator=torch.Generator().manual_seed(0)).to(accelerator.device)

    model = FaceVAE(image_size=args.image_size, latent_dim=args.latent_dim, width=args.width)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    start_epoch, history, spent = 1, {"train": [], "val": []}, 0.0
    checkpoint_path = args.run_dir / "checkpoint.pt"
    if args.resume and checkpoint_path.exists():
        checkpoint = load_checkpoint(checkpoint_path)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        start_epoch, history, spent = checkpoint["epoch"] + 1, checkpoint["history"], checkpoint["seconds"]
        torch.set_rng_state(checkpoint["rng"])
        accelerator.print(f"Resumed from {checkpoint_path} after epoch {checkpoint['epoch']}")
    timer = Timer(already_spent=spent)

    model, optimizer, train_loader, val_loader = accelerator.prepare(model, optimizer, train_loader, val_loader)
    val_figures: dict[str, float] = {}
    for epoch in range(start_epoch, args.epochs + 1):
        running, batches = 0.0, 0
        progress = tqdm(train_loader, desc=f"epoch {epoch}/{args.epochs}", disable=not progress_bars)
        for images, _ in progress:
            loss, figures = compute_loss(model, images, args.kl_weight)
            optimizer.zero_grad(set_to_none=True)
            accelerator.backward(loss)
            optimizer.step()
            running, batches = running + figures["loss"], batches + 1
            progress.set_postfix(loss=f"{running / batches:.1f}", kl=f"{figures['kl']:.1f}")

        val_figures = evaluate(model, val_loader, accelerator, args.kl_weight)
        history["train"].append(running / batches)
        history["val"].append(val_figures["loss"])
        accelerator.print(
            f"epoch {epoch}: train loss {running / batches:.2f}, val loss {val_figures['loss']:.2f}, "
            f"val KL {val_figures['kl']:.1f}, val MSE per pixel {val_figures['mse']:.5f}"
        )
        if accelerator.is_main_process:
            vae = accelerator.unwrap_model(model)
            save_figures(vae, fixed_faces, fixed_noise, epoch, args.run_dir)
            plot_losses(history, args.run_dir / "loss.png", ylabel="loss per image (squared error + β·KL)")
            save_checkpoint(
                checkpoint_path,
                model=vae.state_dict(),
                optimizer=optimizer.state_dict(),
                epoch=epoch,
                history=history,
                seconds=timer.seconds,
                rng=torch.get_rng_state(),
            )

    if not val_figures:  # resumed a finished run: just re-export
        val_figures = evaluate(model, val_loader, accelerator, args.kl_weight)
    if accelerator.is_main_process:
        vae = accelerator.unwrap_model(model)
        means, sizes = group_means(vae, train_set, accelerator.device)
        export(
            vae,
            means,
            sizes,
            args,
            val_figures,
            counts={"train": len(train_set), "val": len(val_set), "epochs": len(history["val"])},
            seconds=timer.seconds,
            device=describe_device(accelerator.device),
        )
    return val_figures


def export(
    vae: FaceVAE,
    means: dict[str, torch.Tensor],
    sizes: dict[str, int],
    args: argparse.Namespace,
    metrics: dict[str, float],
    counts: dict[str, int],
    seconds: float,
    device: str,
) -> None:
    """Write the Hub-layout folder (weights, attribute vectors, model card), and push it if asked."""
    vae.save_pretrained(args.out_dir)
    save_attribute_vectors(args.out_dir, means, sizes)
    results = {
        "held-out MSE per pixel (posterior-mean reconstruction, 0..1 RGB)": f"{metrics['mse']:.5f}",
        "held-out PSNR (dB)": f"{10 * math.log10(1 / metrics['mse']):.2f}",
        "held-out loss (squared error + β·KL, per image)": f"{metrics['loss']:.2f}",
        "held-out KL (nats per image)": f"{metrics['kl']:.2f}",
    }
    size = args.image_size
    group_sizes = ", ".join(f"{name.replace('_', ' ')} {sizes[name]:,}" for name in GROUPS)
    description = (
        f"A convolutional VAE for {size}×{size} RGB faces with a {args.latent_dim}-d latent: stride-2 "
        f"convolutions (width {args.width}, doubling per stage down to 4×4) with batch norm, a mirrored "
        "transposed-conv decoder and a sigmoid output, trained on squared error summed over pixels + "
        f"β·KL with β = {args.kl_weight:g}.\n\n"
        f"`{ATTRIBUTE_VECTORS_FILE}` holds the latent vectors of the book's glasses arithmetic: the mean "
        f"posterior mean of the training faces of each group ({group_sizes}) and `glasses_direction`, "
        "the with-minus-without-glasses difference averaged over men and women. Faces flagged "
        "`likely_sunglasses` in the suite's data are left out of the groups, so that \"with glasses\" means "
        "clear glasses."
    )
    if args.tiny:
        data = f"A tiny smoke run: {counts['train']} training faces. {FACES_DATA_NOTE}"
    else:
        data = (
            f"{counts['train']:,} training faces (CelebA's train partition); metrics on {counts['val']:,} "
            f"held-out faces (its val partition). {FACES_DATA_NOTE}"
        )
    usage = (
        "from pathlib import Path\n"
        "from models.face_vae import PRESETS, arithmetic, edit_glasses, load_face_vae\n\n"
        f'face_vae = load_face_vae(Path("{args.out_dir}"))  # or a snapshot_download() of the Hub repo\n'
        "face = arithmetic(face_vae.model, face_vae.vectors, PRESETS[next(iter(PRESETS))])  # (1, 3, S, S)"
    )
    write_model_card(
        args.out_dir,
        title=f"CelebA {size}×{size} face VAE (generative models suite)",
        description=description,
        license="other",
        tags=["celeba", "vae", "generative-models-suite"],
        data=data,
        command=args.command,
        training={
            "epochs": counts["epochs"],
            "batch size": args.batch_size,
            "optimizer": f"Adam, lr {args.lr}",
            "KL weight β": args.kl_weight,
            "seed": args.seed,
            "mixed precision": args.mixed_precision,
            "device": device,
            "wall time": format_duration(seconds),
        },
        metrics=results,
        usage=usage,
    )
    print(f"Saved {args.out_dir}")
    if args.push_to_hub:
        print(push_to_hub(args.out_dir, args.push_to_hub, f"Face VAE: {results}"))


if __name__ == "__main__":
    main()
