"""Train the digits autoencoder or VAE on MNIST.

    python -m training.train_digits --model ae --epochs 30
    python -m training.train_digits --model vae --epochs 40 --push-to-hub you/mnist-vae
    python -m training.train_digits --model vae --beta 4       # a β-VAE: the KL term weighs 4 times
    accelerate launch -m training.train_digits --model vae      # several GPUs

Writes a Hub-layout folder (config.json, model.safetensors, README.md model card) to --out-dir,
and per-epoch grids, the loss curve and a resumable checkpoint to --run-dir.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from torch.utils.data import DataLoader, Subset, TensorDataset
from torchvision.utils import save_image
from tqdm import tqdm

from models.digits import VAE, Autoencoder, autoencoder_loss, coordinate_kl, vae_loss
from training.common import add_run_arguments, parse_run_arguments
from training.loop import TrainingRun, average_figures, update
from training.mnist import DEFAULT_MNIST_DIR, load_mnist


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["ae", "vae"], required=True)
    parser.add_argument(
        "--beta", type=float, default=1.0, help="VAE: weight of the KL term (1: the ELBO; other values: a β-VAE)"
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_MNIST_DIR, help="torchvision MNIST root")
    parser.add_argument(
        "--val-size", type=int, default=0, help="hold out the last N training images; export the best epoch on them"
    )
    add_run_arguments(parser, name=None, epochs=30, batch_size=128, lr=1e-3, tiny="512 images")
    args = parse_run_arguments(parser, argv, "training.train_digits")
    if args.model == "ae" and args.beta != 1.0:
        parser.error("--beta is the VAE's KL weight; the autoencoder has no KL term")
    args.out_dir = args.out_dir or Path("weights") / model_name(args.model, args.beta)
    args.run_dir = args.run_dir or Path("runs") / model_name(args.model, args.beta)
    return args


def model_name(model: str, beta: float) -> str:
    """The weights folder: digits-ae, digits-vae, or digits-vae-beta4 for a β-VAE."""
    return f"digits-{model}" if beta == 1.0 else f"digits-{model}-beta{beta:g}"


def split_off_validation(train_set: TensorDataset, size: int) -> tuple[TensorDataset, TensorDataset]:
    """The last `size` training images become a validation set, used to pick the epoch to export."""
    images, labels = train_set.tensors
    return TensorDataset(images[:-size], labels[:-size]), TensorDataset(images[-size:], labels[-size:])


def compute_loss(model, images: torch.Tensor, beta: float = 1.0) -> tuple[torch.Tensor, dict[str, float]]:
    """The training loss and the figures to log; works on an accelerate-wrapped model too.

    VAE figures, in nats per image: the loss (reconstruction + β·KL), its parts, and the negative ELBO.
    """
    if isinstance(images, list):
        images = images[0]
    output = model(images)
    if isinstance(output, tuple):  # VAE: (reconstruction, mu, logvar)
        loss, reconstruction, kl = vae_loss(*output[:1], images, *output[1:], beta=beta)
        figures = {"loss": loss.item(), "reconstruction": reconstruction.item(), "kl": kl.item()}
        return loss, {**figures, "neg_elbo": figures["reconstruction"] + figures["kl"]}
    loss = autoencoder_loss(output, images)
    return loss, {"mse": loss.item()}


@torch.no_grad()
def evaluate(model, loader: DataLoader, accelerator: Accelerator, beta: float = 1.0) -> dict[str, float]:
    """Average of each logged figure over the whole test set (all processes)."""
    model.eval()
    torch.manual_seed(1234)  # the VAE's ELBO estimate samples one latent per image
    batches = ((len(images), compute_loss(model, images, beta)[1]) for images, _ in loader)
    figures = average_figures(batches, accelerator)
    model.train()
    return figures


@torch.no_grad()
def save_figures(model, images: torch.Tensor, epoch: int, run_dir: Path) -> None:
    """Test digits over their reconstructions; for the VAE also 64 samples from the prior."""
    model.eval()
    reconstruction = model.decode(model.encode(images))
    save_image(torch.cat([images, reconstruction]), run_dir / f"reconstructions_epoch{epoch:03d}.png", nrow=16)
    if isinstance(model, VAE):
        latent = torch.randn(64, model.latent_dim, generator=torch.Generator().manual_seed(0)).to(images.device)
        save_image(model.decode(latent), run_dir / f"samples_epoch{epoch:03d}.png", nrow=8)
    model.train()


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    run = TrainingRun(args)  # seeds torch first: the model's initial weights come from --seed
    accelerator = run.accelerator
    model = Autoencoder() if args.model == "ae" else VAE(beta=args.beta)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    run.track(model=model, optimizer=optimizer)

    train_set, test_set = load_mnist(args.data_dir, limit=512 if args.tiny else None)
    val_set = None
    if args.val_size:
        train_set, val_set = split_off_validation(train_set, args.val_size)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, drop_last=True)
    test_loader = DataLoader(test_set, batch_size=1000)
    val_loader = DataLoader(val_set, batch_size=1000) if val_set else None
    fixed_images = next(iter(DataLoader(Subset(test_set, range(32)), batch_size=32)))[0]

    start_epoch = run.resume() + 1
    best = run.saved.get("best", {"epoch": 0, "val": float("inf"), "model": None})
    model, optimizer, train_loader, test_loader = accelerator.prepare(model, optimizer, train_loader, test_loader)
    if val_loader:
        val_loader = accelerator.prepare(val_loader)
    metric = "mse" if args.model == "ae" else "loss"
    test_figures: dict[str, float] = {}
    for epoch in range(start_epoch, args.epochs + 1):
        running, batches = 0.0, 0
        progress = tqdm(train_loader, desc=f"epoch {epoch}/{args.epochs}", disable=not run.is_main_process)
        for images, _ in progress:
            loss, figures = compute_loss(model, images, args.beta)
            update(optimizer, loss, accelerator)
            running, batches = running + figures[metric], batches + 1
            progress.set_postfix({metric: f"{running / batches:.4f}"})

        test_figures = evaluate(model, test_loader, accelerator, args.beta)
        run.log(train=running / batches, test=test_figures[metric])
        accelerator.print(f"epoch {epoch}: train {metric} {running / batches:.4f}, test {test_figures}")
        if val_loader:
            val_metric = evaluate(model, val_loader, accelerator, args.beta)[metric]
            run.log(validation=val_metric)
            accelerator.print(f"epoch {epoch}: validation {metric} {val_metric:.4f}")
            if val_metric < best["val"]:
                state = accelerator.unwrap_model(model).state_dict()
                best = {"epoch": epoch, "val": val_metric, "model": {k: v.detach().clone() for k, v in state.items()}}
        if run.is_main_process:
            save_figures(accelerator.unwrap_model(model), fixed_images.to(accelerator.device), epoch, args.run_dir)
        run.save(epoch, plot={"ylabel": metric}, best=best)

    if best["model"] is not None:  # export the epoch that did best on the validation images
        accelerator.unwrap_model(model).load_state_dict(best["model"])
        test_figures = {}
    if not test_figures:  # a restored best epoch, or a resumed run that had already finished
        test_figures = evaluate(model, test_loader, accelerator, args.beta)
    if best["model"] is not None:
        test_figures["selected_epoch"] = best["epoch"]
    if args.model == "vae":
        test_figures.update(latent_usage(accelerator.unwrap_model(model), test_loader))
    if run.is_main_process:
        export(accelerator.unwrap_model(model), run, test_figures, len(run.history["test"]))
    return test_figures


ACTIVE_KL_NATS = 0.1  # a coordinate whose mean KL is below this carries (almost) nothing: the prior's noise


@torch.no_grad()
def latent_usage(model: VAE, loader: DataLoader) -> dict:
    """What the code holds, on the test set: each coordinate's mean KL (nats), how many are active, and the
    mean squared error per pixel of reconstructions through the posterior mean (what the app shows)."""
    model.eval()
    kl_sum, squared_error, count = 0.0, 0.0, 0
    for images, _ in loader:
        mu, logvar = model.encode_distribution(images)
        kl_sum = kl_sum + coordinate_kl(mu, logvar).sum(0)
        squared_error += F.mse_loss(model.decode(mu), images, reduction="sum").item()
        count += len(images)
    model.train()
    coordinate_kls = (kl_sum / count).tolist()
    return {
        "mse": squared_error / (count * images[0].numel()),
        "active_coordinates": sum(kl > ACTIVE_KL_NATS for kl in coordinate_kls),
        "kl_per_coordinate": [round(kl, 3) for kl in coordinate_kls],
    }


def mnist_splits(val_size: int) -> str:
    held_out = f", the last {val_size:,} held out for validation" if val_size else ""
    train = f"{60_000 - val_size:,} training images{held_out}"
    return f"{train}; metrics on the 10,000 test images"


def export(model, run: TrainingRun, metrics: dict[str, float], epochs: int) -> None:
    """Write the Hub-layout folder with its model card, and push it if asked."""
    args = run.args
    model.save_pretrained(args.out_dir)
    is_ae = args.model == "ae"
    name = "Autoencoder" if is_ae else "VAE"
    if is_ae:
        results = {"test MSE per pixel": f"{metrics['mse']:.5f}"}
        description = "The book's dense autoencoder (784 → 200 → 20 → 200 → 784, ReLU, sigmoid output), MSE loss."
    else:
        results = {
            "β (weight of the KL term)": f"{args.beta:g}",
            "test reconstruction error (BCE, nats per image)": f"{metrics['reconstruction']:.2f}",
            "test KL (nats per image)": f"{metrics['kl']:.2f}",
            "test negative ELBO (nats per image)": f"{metrics['neg_elbo']:.2f}",
            "test MSE per pixel (reconstruction through the posterior mean)": f"{metrics['mse']:.4f}",
            f"active latent coordinates (mean KL > {ACTIVE_KL_NATS} nats)": f"{metrics['active_coordinates']} of 20",
            "mean KL of each coordinate, largest first (nats)": ", ".join(
                f"{kl:.2f}" for kl in sorted(metrics["kl_per_coordinate"], reverse=True)
            ),
        }
        description = (
            "A convolutional VAE with a 20-d latent (two stride-2 convolutions, 256 hidden units, mirrored "
            "decoder, sigmoid output), trained on BCE + KL: the negative ELBO in nats per image."
        )
        if args.beta != 1.0:
            name = f"β-VAE (β = {args.beta:g})"
            description = (
                f"The suite's convolutional MNIST VAE (20-d latent) trained with the KL term weighted by β = "
                f"{args.beta:g}: the loss is BCE + {args.beta:g}·KL (Higgins et al. 2017). "
                + (
                    "A β above 1 pushes the code towards the prior: fewer coordinates in use, blurrier "
                    "reconstructions, smoother samples."
                    if args.beta > 1
                    else "A β below 1 lets the code hold more: sharper reconstructions, samples further from digits."
                )
            )
    if "selected_epoch" in metrics:
        results["exported epoch (best on the validation images)"] = metrics["selected_epoch"]
    run.publish(
        args.out_dir,
        f"{name}: {results}",
        title=f"MNIST {name} (generative models suite)",
        description=description,
        license="cc-by-sa-3.0",
        tags=["mnist", "autoencoder" if is_ae else "vae", "generative-models-suite"]
        + (["beta-vae"] if args.beta != 1.0 else []),
        data=(
            f"MNIST ({'the first 512 images: a tiny smoke run' if args.tiny else mnist_splits(args.val_size)}), "
            "by Yann LeCun, "
            "Corinna Cortes and Chris Burges, CC BY-SA 3.0."
        ),
        training={
            "epochs": epochs,
            "batch size": args.batch_size,
            "optimizer": f"Adam, lr {args.lr}",
            **({} if is_ae else {"β (weight of the KL term)": f"{args.beta:g}"}),
        },
        metrics=results,
        usage=f"from models.digits import {type(model).__name__}\n"
        f'model = {type(model).__name__}.from_pretrained("{args.push_to_hub or args.out_dir}")',
    )


if __name__ == "__main__":
    main()
