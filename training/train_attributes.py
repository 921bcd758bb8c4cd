"""Train the face attribute classifier (eyeglasses, male, black_hair, blond_hair) on CelebA faces.

    OMP_NUM_THREADS=1 python -m training.train_attributes            # 45 epochs, 1 CPU core: 15-30 minutes
    python -m training.train_attributes --tiny --data-dir /tmp/faces  # smoke test (see tiny_synthetic_faces)

The classifier is the suite's measuring stick: it checks whether the face VAE's reconstructions and glasses
edits show glasses, so it must read glasses on blurry faces too. Augmentation: a random horizontal flip,
a random shift of up to --max-shift pixels and, on --blur-share of the faces, a Gaussian blur of sigma
uniform in 0..--max-blur. Eyeglasses are rare (about 7 % of the training faces): each attribute's positive
faces weigh negatives / positives in the loss (`pos_weight`), so the default 0.5 thresholds sit where
missing a positive costs as much as a false alarm. The thresholds are not tuned on the held-out faces.

Writes a Hub-layout folder (config.json, model.safetensors, README.md model card with the held-out table)
to --out-dir, and the loss and held-out curves and a resumable checkpoint to --run-dir. Held-out figures
are on CelebA's validation partition. CelebA is for non-commercial research only: the images are read
from --data-dir and never copied.
"""

from __future__ import annotations

import argparse
import math

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from tqdm import tqdm

from models.attributes import ATTRIBUTES, EVAL_BLUR_SIGMA, AttributeClassifier, attribute_figures
from training.common import add_run_arguments, parse_run_arguments, plot_losses
from training.faces import FACES_DATA_NOTE, FaceDataset, add_face_arguments, augment
from training.loop import TrainingRun, update

TINY_FACES, TINY_VAL_FACES = 64, 64


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_face_arguments(parser, width_help="channels of the first conv (doubling per stage)")
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW weight decay")
    parser.add_argument("--max-shift", type=int, default=4, help="random shift, pixels each way")
    parser.add_argument("--blur-share", type=float, default=0.5, help="share of training faces blurred")
    parser.add_argument("--max-blur", type=float, default=2.0, help="largest blur sigma, pixels")
    add_run_arguments(parser, name="face-attributes", epochs=45, batch_size=128, lr=2e-3, tiny=f"{TINY_FACES} faces")
    return parse_run_arguments(parser, argv, "training.train_attributes")


def label_matrix(faces: FaceDataset) -> torch.Tensor:
    """(N, len(ATTRIBUTES)) float 0/1 labels, columns in ATTRIBUTES order."""
    return torch.stack([faces.labels(name) for name in ATTRIBUTES], dim=1).float()


def evaluate(model: AttributeClassifier, faces: FaceDataset) -> dict[str, float]:
    """models.attributes.attribute_figures on a FaceDataset (sunglasses = the data's `likely_sunglasses`)."""
    labels = {name: faces.labels(name) for name in model.attributes}
    return attribute_figures(model, faces.images, labels, faces.labels("likely_sunglasses"))


def cosine(epochs: int):
    """lr factor for the epoch after `finished` epochs: from 1 down to near 0 along half a cosine."""
    return lambda finished: 0.5 * (1 + math.cos(math.pi * finished / epochs))


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    run = TrainingRun(args)  # first: the seed below decides the initial weights too
    accelerator = run.accelerator

    progress_bars = run.is_main_process
    train_set = FaceDataset(
        args.data_dir, args.image_size, "train", limit=TINY_FACES if args.tiny else None, progress=progress_bars
    )
    val_set = FaceDataset(
        args.data_dir, args.image_size, "val", limit=TINY_VAL_FACES if args.tiny else None, progress=progress_bars
    )
    labels = label_matrix(train_set)
    positives = labels.sum(0)
    # Each positive weighs negatives/positives (at least 1 of each, so tiny runs never divide by zero).
    pos_weight = (len(labels) - positives).clamp_min(1) / positives.clamp_min(1)
    batch_size = min(args.batch_size, len(train_set))
    loader = DataLoader(TensorDataset(train_set.images, labels), batch_size=batch_size, shuffle=True, drop_last=True)

    thresholds = dict.fromkeys(ATTRIBUTES, 0.5)  # written to config.json
    model = AttributeClassifier(args.image_size, args.width, ATTRIBUTES, thresholds, args.dropout)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    # Stepped once per epoch, so not handed to accelerate (which steps schedulers once per batch).
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine(args.epochs))
    run.track(model=model, optimizer=optimizer, scheduler=scheduler)
    start_epoch = run.resume() + 1
    val_history = run.saved.get(
        "val_history", {"glasses recall (clear)": [], "glasses specificity": [], "male accuracy": []}
    )
    if start_epoch > 1:  # the saved lr followed the old run's schedule; --epochs may have changed since
        for group, base_lr in zip(optimizer.param_groups, scheduler.base_lrs):
            group["lr"] = base_lr * cosine(args.epochs)(scheduler.last_epoch)

    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    pos_weight = pos_weight.to(accelerator.device)
    classifier = accelerator.unwrap_model(model)
    val_figures: dict[str, float] = {}
    for epoch in range(start_epoch, args.epochs + 1):
        model.train()  # evaluate() leaves it in eval mode
        running = 0.0
        progress = tqdm(loader, desc=f"epoch {epoch}/{args.epochs}", disable=not progress_bars)
        for step, (images, targets) in enumerate(progress, start=1):
            images = augment(images.float().div(255), args.max_shift, args.blur_share, args.max_blur)
            logits = model(images)
            loss = F.binary_cross_entropy_with_logits(logits.float(), targets, pos_weight=pos_weight)
            update(optimizer, loss, accelerator)
            running += loss.item()
            progress.set_postfix(loss=f"{running / step:.4f}")
        scheduler.step()
        run.log(**{"train loss": running / len(loader)})

        if run.is_main_process:  # the held-out faces are few (673): one process is enough
            classifier.eval()
            val_figures = evaluate(classifier, val_set)
            val_history["glasses recall (clear)"].append(val_figures["eyeglasses_recall_clear"])
            val_history["glasses specificity"].append(val_figures["eyeglasses_specificity"])
            val_history["male accuracy"].append(val_figures["male_accuracy"])
            accelerator.print(
                f"epoch {epoch}: train loss {running / len(loader):.4f}; held out: "
                + ", ".join(f"{name} {value:.3f}" for name, value in val_figures.items())
            )
            plot_losses(val_history, args.run_dir / "val.png", ylabel="held-out share (0..1)")
        run.save(epoch, plot={"ylabel": "weighted BCE per attribute"}, val_history=val_history)
        accelerator.wait_for_everyone()

    if run.is_main_process:
        classifier.eval()
        if not val_figures:  # resumed a finished run: just re-export
            val_figures = evaluate(classifier, val_set)
        counts = {"train": len(train_set), "val": len(val_set), "epochs": len(run.history["train loss"])}
        export(classifier, run, val_figures, val_set, counts)
    return val_figures


def export(
    model: AttributeClassifier,
    run: TrainingRun,
    metrics: dict[str, float],
    val_set: FaceDataset,
    counts: dict[str, int],
) -> None:
    """Write the Hub-layout folder and its model card (the held-out table), and push it if asked."""
    args = run.args
    model.cpu().save_pretrained(args.out_dir)
    glasses, sunglasses = val_set.labels("eyeglasses").bool(), val_set.labels("likely_sunglasses").bool()
    clear = int((glasses & ~sunglasses).sum())

    def percent(name: str) -> str:
        return "n/a" if math.isnan(metrics[name]) else f"{metrics[name]:.1%}"

    results = {}
    for name in model.attributes:
        present = int(val_set.labels(name).sum())
        results[f"{name}: accuracy / recall / specificity"] = (
            f"{percent(f'{name}_accuracy')} / {percent(f'{name}_recall')} of {present} / "
            f"{percent(f'{name}_specificity')} of {len(val_set) - present}"
        )
    results |= {
        f"eyeglasses recall, clear glasses ({clear} faces)": percent("eyeglasses_recall_clear"),
        f"eyeglasses recall, all glasses incl. likely sunglasses ({int(glasses.sum())} faces)": percent(
            "eyeglasses_recall"
        ),
        f"eyeglasses recall, all glasses blurred (sigma {EVAL_BLUR_SIGMA} px)": percent("eyeglasses_recall_blurred"),
        f"eyeglasses recall, clear glasses blurred (sigma {EVAL_BLUR_SIGMA} px)": percent(
            "eyeglasses_recall_clear_blurred"
        ),
        f"eyeglasses specificity, faces blurred (sigma {EVAL_BLUR_SIGMA} px)": percent(
            "eyeglasses_specificity_blurred"
        ),
    }
    description = (
        f"A small CNN that reads {', '.join(model.attributes)} from {args.image_size}×{args.image_size} RGB faces "
        "in 0..1: the measuring stick of the generative models suite's glasses demo (does a face VAE "
        "reconstruction or edit show glasses?) and hair CycleGAN. Stride-2 3×3 convolutions with batch norm and "
        f"ReLU (width {args.width}, doubling per stage down to 4×4), global average pooling, dropout "
        f"{args.dropout} and one logit per attribute; decision thresholds are in config.json "
        f"({', '.join(f'{name} {value:g}' for name, value in model.thresholds.items())}).\n\n"
        "Trained with random flips, shifts and Gaussian blur so that it also reads glasses on blurry images. "
        "CelebA's Eyeglasses includes sunglasses; 'clear glasses' below are those the suite's data does not flag "
        "`likely_sunglasses` (a heuristic, not a label). Held-out figures are on CelebA's validation partition, "
        "whose glasses are few, so each glasses figure moves by several points per face. "
        "Licence: the weights derive from CelebA, whose terms allow non-commercial research use only."
    )
    if args.tiny:
        data = f"A tiny smoke run: {counts['train']} training faces. {FACES_DATA_NOTE}"
    else:
        data = (
            f"{counts['train']:,} training faces (CelebA's train partition); figures on {counts['val']:,} "
            f"held-out faces (its validation partition). {FACES_DATA_NOTE}"
        )
    usage = (
        "from pathlib import Path\n"
        "from models.attributes import decide, load_attribute_classifier, predict\n\n"
        f'classifier = load_attribute_classifier(Path("{args.out_dir}"))  # or a snapshot_download() of the Hub repo\n'
        "probabilities = predict(classifier, faces)  # faces: (B, 3, 64, 64) in 0..1 → name → (B,)\n"
        'has_glasses = decide(classifier, probabilities)["eyeglasses"]  # (B,) bool'
    )
    run.publish(
        args.out_dir,
        f"Face attribute classifier: {results}",
        title="CelebA face attribute classifier (generative models suite)",
        description=description,
        license="other",
        tags=["celeba", "image-classification", "generative-models-suite"],
        data=data,
        training={
            "epochs": counts["epochs"],
            "batch size": args.batch_size,
            "optimizer": f"AdamW, lr {args.lr} (cosine decay per epoch), weight decay {args.weight_decay}",
            "loss": "binary cross-entropy per attribute, positives weighted negatives/positives",
            "augmentation": (
                f"flip, shift ≤ {args.max_shift} px, Gaussian blur sigma 0..{args.max_blur:g} px on "
                f"{args.blur_share:.0%} of faces"
            ),
        },
        metrics=results,
        usage=usage,
    )


if __name__ == "__main__":
    main()
