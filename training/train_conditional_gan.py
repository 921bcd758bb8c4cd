"""Train the conditional GAN: CelebA faces with or without glasses, by label (Liu, ch. 5).

    OMP_NUM_THREADS=1 python -m training.train_conditional_gan --init weights/faces-dcgan --epochs 10  # CPU
    python -m training.train_conditional_gan --epochs 30                     # from scratch: 64×64, width 32
    python -m training.train_conditional_gan --tiny --data-dir /tmp/faces    # a smoke test: ≤ 64 faces, 1 epoch
    python -m training.train_conditional_gan --resume --epochs 20            # continue (or, at the last epoch, export)
    accelerate launch -m training.train_conditional_gan                      # several GPUs

The DCGAN's recipe (BCE, Adam 2e-4 with β1 = 0.5, N(0, 0.02) init, one-sided label smoothing, horizontal
flips; see training/train_dcgan.py), with the glasses label (CelebA's Eyeglasses) given to both networks
(see models/conditional_gan.py for how) and a matching-aware discriminator (see `train_step`). Both
networks are the DCGAN's with the label added, so --init can start them from the trained DCGAN
(weights/faces-dcgan): it already draws faces, and only has to learn the label. From there, two epochs
(3 minutes of one CPU thread) gave 95 % of 512 faces read as wearing glasses at label 1 and 0.8 % at
label 0.

What the data needs: CelebA's Eyeglasses counts sunglasses, which the generator, given the choice, draws
for most faces (dark lenses are the easiest glasses to draw); so the faces the suite's data flags as
likely sunglasses are left out (--sunglasses) and label 1 means clear glasses. Glasses are then 4.5 % of
the faces, so they are drawn as a third of each batch (--glasses-share); and 78 % of them are men, but
only 35 % of the faces without, so men are drawn as half of each label's faces (--male-share): else, to
match each label's faces, the generator would have to turn women into men as it adds glasses, and a seed
would not stay the same person. See `sampling_weights`.

Writes a Hub-layout folder to --out-dir: the generator (config.json, model.safetensors, README.md model
card, training_metrics.json) and the discriminator in its discriminator/ subfolder, to resume or fine-tune
from. Per epoch, --run-dir gets a grid (rows of faces without glasses, each above the same noise with
glasses), the loss curves, what the suite's attribute classifier (--attributes) reads on generated faces,
and a resumable checkpoint. CelebA is for non-commercial research only: the faces are read from
--data-dir and never copied.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from torch import nn
from torch.utils.data import DataLoader, TensorDataset, WeightedRandomSampler
from torchvision.utils import save_image
from tqdm import tqdm

from models.attributes import AttributeClassifier, decide, load_attribute_classifier, predict
from models.conditional_gan import ConditionalDiscriminator, ConditionalGenerator, generate
from models.dcgan import load_discriminator, load_generator, noise_for_seeds
from training.common import add_run_arguments, parse_run_arguments, plot_losses
from training.faces import FACES_DATA_NOTE, FaceDataset, add_face_arguments
from training.loop import TrainingRun, update

REAL_LABEL = 0.9  # one-sided label smoothing: real images are labelled 0.9, fakes stay 0
TINY_FACES = 64
GLASSES_SHARE = 1 / 3
MALE_SHARE = 0.5
GRID_SEEDS = 32  # the per-epoch grid: seeds 0..31, each without and with glasses
CHECK_SEEDS = 256  # per epoch: the attribute classifier on this many seeds at label 0 and at label 1
EVAL_SEEDS = 512  # the same at export, for the card
TARGETS = {"glasses_at_1": 0.85, "glasses_at_0": 0.10}  # the real run's aims: at least 85 %, at most 10 %
EYE_BAND = (28 / 64, 42 / 64)  # the rows where CelebA's faces with clear glasses differ most from those without


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_face_arguments(parser, width_help="channels at full resolution (64 in the DCGAN paper)")
    parser.add_argument("--beta1", type=float, default=0.5, help="Adam's β1 (0.5 in the DCGAN paper; β2 stays 0.999)")
    parser.add_argument(
        "--glasses-share", type=float, default=GLASSES_SHARE, help="share of faces with glasses in each batch"
    )
    parser.add_argument("--male-share", type=float, default=MALE_SHARE, help="share of men among each label's faces")
    parser.add_argument(
        "--attributes",
        default="weights/face-attributes",
        help="the suite's attribute classifier, to measure the generated faces ('none': do not measure)",
    )
    parser.add_argument(
        "--sunglasses",
        choices=["keep", "drop"],
        default="drop",
        help="CelebA's Eyeglasses counts sunglasses: leave out the faces the suite's data flags likely_sunglasses, "
        "so that label 1 means clear glasses (else the generator draws mostly dark sunglasses), or keep them",
    )
    parser.add_argument("--init", type=Path, help="start both networks from this trained DCGAN (weights/faces-dcgan)")
    add_run_arguments(
        parser,
        name="faces-cgan",
        epochs=30,
        batch_size=64,
        lr=2e-4,
        tiny=f"{TINY_FACES // 2} faces with glasses and as many without",
    )
    args = parse_run_arguments(parser, argv, "training.train_conditional_gan")
    for name in ("glasses_share", "male_share"):
        if not 0 < getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be between 0 and 1")
    args.attributes = None if args.attributes.lower() == "none" else Path(args.attributes)
    if args.attributes and not (args.attributes / "config.json").is_file():
        parser.error(f"no attribute classifier in {args.attributes}: give its folder, or 'none' not to measure")
    return args


def without_sunglasses(attributes: dict[str, int]) -> bool:
    """A FaceDataset filter: every face but those with glasses that the suite's data flags as likely sunglasses."""
    return not (attributes["eyeglasses"] and attributes["likely_sunglasses"])


def face_filter(args: argparse.Namespace) -> Callable[[dict[str, int]], bool] | None:
    """Which faces to train on: all but likely sunglasses (--sunglasses drop); with --tiny, only the first
    TINY_FACES / 2 faces with glasses and as many without, so that tiny runs have both labels."""
    base = without_sunglasses if args.sunglasses == "drop" else None
    if not args.tiny:
        return base
    taken: Counter[int] = Counter()

    def keep(attributes: dict[str, int]) -> bool:
        if base is not None and not base(attributes):
            return False
        taken[attributes["eyeglasses"]] += 1
        return taken[attributes["eyeglasses"]] <= TINY_FACES // 2

    return keep


def sampling_weights(
    glasses: torch.Tensor, male: torch.Tensor, glasses_share: float, male_share: float
) -> torch.Tensor:
    """One sampling weight per face, so that a draw is with glasses with probability `glasses_share`, and a
    man with probability `male_share` whatever the label: each (glasses, sex) group gets its share, split
    evenly among its faces. Where a label has faces of one sex only (tiny runs), that sex takes the label's
    whole share."""
    weights = torch.zeros(len(glasses), dtype=torch.float64)
    for label, label_share in ((1, glasses_share), (0, 1 - glasses_share)):
        groups = {sex: (glasses == label) & (male == sex) for sex in (1, 0)}
        sizes = {sex: int(group.sum()) for sex, group in groups.items()}
        if not any(sizes.values()):
            raise ValueError(f"no faces {'with' if label else 'without'} glasses: the conditional GAN needs both")
        sex_shares = {1: male_share, 0: 1 - male_share} if all(sizes.values()) else {1: 1.0, 0: 1.0}
        for sex, group in groups.items():
            if sizes[sex]:
                weights[group] = label_share * sex_shares[sex] / sizes[sex]
    return weights


def training_loader(faces: FaceDataset, batch_size: int, glasses_share: float, male_share: float) -> DataLoader:
    """Batches of (uint8 faces, glasses labels), drawn with replacement by `sampling_weights`; an epoch is as
    many draws as there are faces."""
    glasses, male = faces.labels("eyeglasses"), faces.labels("male")
    weights = sampling_weights(glasses, male, glasses_share, male_share)
    sampler = WeightedRandomSampler(weights, num_samples=len(faces), replacement=True)
    return DataLoader(TensorDataset(faces.images, glasses), batch_size=batch_size, sampler=sampler, drop_last=True)


def train_step(
    generator: nn.Module,
    discriminator: nn.Module,
    optimizer_g: torch.optim.Optimizer,
    optimizer_d: torch.optim.Optimizer,
    real: torch.Tensor,
    glasses: torch.Tensor,
    accelerator: Accelerator,
) -> dict[str, float]:
    """One update of D, then one of G, on real images in -1..1 and their glasses labels (0/1); returns the
    figures to log. train_dcgan's step, with the labels, and one more kind of "fake" for D.

    The fakes are made with the real faces' labels. D also sees the real faces under the wrong label, as
    fakes (the matching-aware discriminator of Reed et al., 2016, "Generative adversarial text to image
    synthesis"): real faces with glasses are what "label 0" must not look like, and D learns that from
    them directly instead of waiting for the generator to draw glasses under label 0. It costs nothing
    more: D reads both labels' logits from the same features. As in Reed et al., the two kinds of fake
    share the weight of the real term.
    """
    flip = torch.rand(real.shape[0], device=real.device) < 0.5  # a mirrored face keeps its glasses
    real = torch.where(flip[:, None, None, None], real.flip(3), real)
    noise = torch.randn(real.shape[0], accelerator.unwrap_model(generator).noise_dim, device=real.device)
    right, wrong = glasses.long()[:, None], 1 - glasses.long()[:, None]

    # Discriminator: real and fake in separate batches, so each gets its own batch-norm statistics.
    with accelerator.autocast():
        fake = generator(noise, glasses.float())
        real_both = discriminator(real)  # (B, 2): each real face under label 0 and under label 1
        real_logits, mismatched_logits = real_both.gather(1, right)[:, 0], real_both.gather(1, wrong)[:, 0]
        fake_logits = discriminator(fake.detach(), glasses)
        real_loss = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, REAL_LABEL))
        fake_loss = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        mismatched_loss = F.binary_cross_entropy_with_logits(mismatched_logits, torch.zeros_like(mismatched_logits))
        loss_d = real_loss + (fake_loss + mismatched_loss) / 2
    update(optimizer_d, loss_d, accelerator)

    # Generator: the non-saturating loss, -log D(G(z, y), y), against the just-updated discriminator.
    with accelerator.autocast():
        fooled_logits = discriminator(fake, glasses)
        loss_g = F.binary_cross_entropy_with_logits(fooled_logits, torch.ones_like(fooled_logits))
    update(optimizer_g, loss_g, accelerator)

    return {
        "generator": loss_g.item(),
        "discriminator": loss_d.item(),
        "D(x)": torch.sigmoid(real_logits.float()).mean().item(),
        "D(G(z))": torch.sigmoid(fake_logits.float()).mean().item(),
        "D(x, wrong label)": torch.sigmoid(mismatched_logits.float()).mean().item(),
    }


@torch.no_grad()
def save_samples(generator: ConditionalGenerator, noise: torch.Tensor, path: Path) -> None:
    """An 8×8 grid from the same noise every epoch, in eval mode as the app runs it: rows of 8 faces
    without glasses (label 0), each row followed by the same 8 noise vectors with glasses (label 1)."""
    generator.eval()
    rows = [generator(noise, torch.full((len(noise),), float(label), device=noise.device)) for label in (0, 1)]
    pairs = torch.stack([faces.unflatten(0, (-1, 8)) for faces in rows], dim=1)  # (rows, 2, 8, 3, S, S)
    save_image(pairs.flatten(0, 2).add(1).div(2), path, nrow=8, padding=1)
    generator.train()


def share(hits: torch.Tensor) -> float:
    """The share of True in a bool tensor; NaN for an empty one."""
    return hits.float().mean().item() if len(hits) else float("nan")


@torch.no_grad()
def conditioning_figures(
    generator: ConditionalGenerator, classifier: AttributeClassifier, seeds: int
) -> dict[str, float]:
    """How well the label works, on the app's faces of seed 0 (`generate`'s first `seeds` faces), each made
    at label 0 and at label 1: what the attribute classifier reads (the share read as wearing glasses at
    each label; whether a seed reads as the same sex at both, overall and among the seeds read as men, and
    as women, at label 0), and the mean pixel change from label 0 to 1 in the eye band and elsewhere."""
    was_training = generator.training
    generator.eval()
    faces = {label: generate(generator, seeds, 0, float(label)) for label in (0, 1)}
    generator.train(was_training)
    said = {label: decide(classifier, predict(classifier, faces[label])) for label in (0, 1)}
    men_0, men_1 = said[0]["male"], said[1]["male"]
    change = (faces[1] - faces[0]).abs().mean(1)  # (seeds, S, S)
    top, bottom = (round(edge * change.shape[1]) for edge in EYE_BAND)
    return {
        "glasses_at_1": share(said[1]["eyeglasses"]),
        "glasses_at_0": share(said[0]["eyeglasses"]),
        "same_sex": share(men_0 == men_1),
        "men_kept": share(men_1[men_0]),
        "women_kept": share(~men_1[~men_0]),
        "male_at_0": share(men_0),
        "male_at_1": share(men_1),
        "change_at_eyes": change[:, top:bottom].mean().item(),
        "change_elsewhere": torch.cat([change[:, :top], change[:, bottom:]], dim=1).mean().item(),
    }


def classifier_on_real_glasses(classifier: AttributeClassifier, faces: FaceDataset) -> dict[str, float]:
    """The classifier's own readings of sex on the real faces with glasses, to set the figures above against:
    it reads some women with glasses as men (glasses are mostly men's in CelebA), which lowers "women kept"
    even for a generator that keeps every person."""
    glasses, male = faces.labels("eyeglasses").bool(), faces.labels("male").bool()
    read_male = decide(classifier, predict(classifier, faces.images[glasses]))["male"]
    return {
        "real_men_read_as_men": share(read_male[male[glasses]]),
        "real_women_read_as_women": share(~read_male[~male[glasses]]),
    }


def warm_start(generator: ConditionalGenerator, discriminator: ConditionalDiscriminator, folder: Path) -> None:
    """Copy a trained DCGAN of the same shape (e.g. weights/faces-dcgan, with its discriminator/) into both
    networks' DCGAN bodies; the label's maps and heads start fresh."""
    for body, trained in ((generator.body, load_generator(folder)), (discriminator.body, load_discriminator(folder))):
        if trained.state_dict().keys() != body.state_dict().keys() or any(
            trained.state_dict()[name].shape != value.shape for name, value in body.state_dict().items()
        ):
            raise ValueError(f"{folder} holds a DCGAN of another shape than --image-size and --width")
        body.load_state_dict(trained.state_dict())


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    run = TrainingRun(args)  # first: the seed below decides the initial weights too
    accelerator = run.accelerator

    faces = FaceDataset(
        args.data_dir,
        image_size=args.image_size,
        split="train+val",  # no held-out metric for a GAN: train on every face but the test split
        keep=face_filter(args),
        progress=run.is_main_process,
    )
    batch_size = min(args.batch_size, len(faces))
    loader = training_loader(faces, batch_size, args.glasses_share, args.male_share)
    grid_noise = noise_for_seeds(range(GRID_SEEDS)).to(accelerator.device)  # the app's seeds 0..31
    classifier = load_attribute_classifier(args.attributes) if args.attributes else None

    generator = ConditionalGenerator(image_size=args.image_size, width=args.width)
    discriminator = ConditionalDiscriminator(image_size=args.image_size, width=args.width)
    betas = (args.beta1, 0.999)
    optimizer_g = torch.optim.Adam(generator.parameters(), lr=args.lr, betas=betas)
    optimizer_d = torch.optim.Adam(discriminator.parameters(), lr=args.lr, betas=betas)
    run.track(generator=generator, discriminator=discriminator, optimizer_g=optimizer_g, optimizer_d=optimizer_d)
    start_epoch = run.resume() + 1
    if start_epoch == 1 and args.init:
        warm_start(generator, discriminator, args.init)

    generator, discriminator, optimizer_g, optimizer_d, loader = accelerator.prepare(
        generator, discriminator, optimizer_g, optimizer_d, loader
    )
    for epoch in range(start_epoch, args.epochs + 1):
        totals: dict[str, float] = {}
        progress = tqdm(loader, desc=f"epoch {epoch}/{args.epochs}", disable=not run.is_main_process)
        for batch, (images, glasses) in enumerate(progress, start=1):
            real = images.float().div(127.5).sub(1)  # uint8 0..255 → -1..1, the range of G's tanh
            figures = train_step(generator, discriminator, optimizer_g, optimizer_d, real, glasses, accelerator)
            totals = {name: totals.get(name, 0.0) + value for name, value in figures.items()}
            progress.set_postfix({name: f"{total / batch:.3f}" for name, total in totals.items()})
        figures = {name: total / len(loader) for name, total in totals.items()}
        if classifier is not None:  # the same figures in every process: no randomness, the same weights
            checked = conditioning_figures(accelerator.unwrap_model(generator), classifier, CHECK_SEEDS)
            figures |= {name: checked[name] for name in ("glasses_at_1", "glasses_at_0", "men_kept", "women_kept")}
        run.log(**figures)
        history = run.history
        summary = ", ".join(f"{name} {values[-1]:.3f}" for name, values in history.items())
        accelerator.print(f"epoch {epoch}: {summary}")

        if run.is_main_process:
            save_samples(
                accelerator.unwrap_model(generator), grid_noise, args.run_dir / f"samples_epoch{epoch:03d}.png"
            )
            outputs = {
                "D(x), real": history["D(x)"],
                "D(G(z)), fake": history["D(G(z))"],
                "D(x), real under the wrong label": history["D(x, wrong label)"],
            }
            plot_losses(outputs, args.run_dir / "discriminator_outputs.png", ylabel="mean D output")
            if classifier is not None:
                read = {
                    "read as glasses, label 1": history["glasses_at_1"],
                    "read as glasses, label 0": history["glasses_at_0"],
                    "men at label 0 read as men at 1": history["men_kept"],
                    "women at label 0 read as women at 1": history["women_kept"],
                }
                plot_losses(read, args.run_dir / "conditioning.png", ylabel=f"share of {CHECK_SEEDS} seeds")
        losses = {"generator": history["generator"], "discriminator": history["discriminator"]}
        run.save(epoch, plot={"history": losses, "ylabel": "BCE loss"})

    final = {name: values[-1] for name, values in run.history.items()}
    if run.is_main_process:
        unwrapped_g = accelerator.unwrap_model(generator)
        if classifier is not None:
            measured = conditioning_figures(unwrapped_g, classifier, EVAL_SEEDS)
            measured |= classifier_on_real_glasses(classifier, faces)
            final |= {f"eval_{name}": value for name, value in measured.items()}
        export(
            unwrapped_g,
            accelerator.unwrap_model(discriminator),
            run,
            final,
            faces=faces,
            epochs=len(run.history["generator"]),
        )
    return final


def export(
    generator: ConditionalGenerator,
    discriminator: ConditionalDiscriminator,
    run: TrainingRun,
    final: dict[str, float],
    *,
    faces: FaceDataset,
    epochs: int,
) -> None:
    """Write the Hub-layout folder (generator, discriminator/ and the model card), and push it if asked."""
    args = run.args
    generator.save_pretrained(args.out_dir)
    discriminator.save_pretrained(args.out_dir / "discriminator")
    (args.out_dir / "discriminator" / "README.md").unlink(missing_ok=True)  # the card above covers both
    size, width = args.image_size, args.width
    results = {
        "generator loss, last epoch (BCE, -log D(G(z, y), y))": f"{final['generator']:.3f}",
        "discriminator loss, last epoch (BCE, real + (fake + wrong label) / 2)": f"{final['discriminator']:.3f}",
        "mean D(x, y) on real faces, last epoch": f"{final['D(x)']:.3f}",
        "mean D(G(z, y), y) on generated faces, last epoch": f"{final['D(G(z))']:.3f}",
        "mean D(x, wrong label) on real faces under the other label, last epoch": f"{final['D(x, wrong label)']:.3f}",
    }
    if "eval_glasses_at_1" in final:
        figure = {name[5:]: value for name, value in final.items() if name.startswith("eval_")}
        percent = {name: "n/a" if value != value else f"{value:.1%}" for name, value in figure.items()}  # NaN: n/a
        top, bottom = (round(edge * size) for edge in EYE_BAND)
        seeds = f"{EVAL_SEEDS} seeds"
        results |= {
            f"read as wearing glasses at label 1 ({seeds}; target ≥ {TARGETS['glasses_at_1']:.0%})": percent[
                "glasses_at_1"
            ],
            f"read as wearing glasses at label 0 ({seeds}; target ≤ {TARGETS['glasses_at_0']:.0%})": percent[
                "glasses_at_0"
            ],
            f"read as the same sex at label 0 and label 1, seed by seed ({seeds})": percent["same_sex"],
            "of the seeds read as men at label 0, read as men at label 1 (the classifier reads "
            f"{percent['real_men_read_as_men']} of the real men with glasses as men)": percent["men_kept"],
            "of the seeds read as women at label 0, read as women at label 1 (the classifier reads "
            f"{percent['real_women_read_as_women']} of the real women with glasses as women)": percent["women_kept"],
            f"read as men at label 0 / label 1 ({seeds})": f"{percent['male_at_0']} / {percent['male_at_1']}",
            f"mean pixel change from label 0 to 1 (0..1 RGB), eye band (rows {top}-{bottom - 1}) / elsewhere": (
                f"{figure['change_at_eyes']:.3f} / {figure['change_elsewhere']:.3f}"
            ),
        }
        measured = (
            f"The glasses and sex figures are read by the suite's attribute classifier (`{args.attributes}`) on "
            f"the faces of `generate(generator, {EVAL_SEEDS}, seed=0, glasses=...)` at label 0 and at label 1; "
            "whether a seed keeps its sex is how this card measures that it stays the same person, and the "
            "classifier's own readings of real faces with glasses show what that measure can reach."
        )
    else:
        measured = "The generated faces were not measured with the attribute classifier (`--attributes none`)."
    glasses, male = faces.labels("eyeglasses").bool(), faces.labels("male").bool()
    counts = (
        f"{len(faces):,} faces, {int(glasses.sum()):,} of them with glasses ({glasses.float().mean():.1%}); "
        f"men are {male[glasses].float().mean():.0%} of those with glasses and {male[~glasses].float().mean():.0%} "
        "of those without"
    )
    if args.tiny:
        counts = f"a tiny smoke run on the first {counts}"
    if args.sunglasses == "drop":
        sunglasses = (
            "Label 1 means clear glasses: CelebA's Eyeglasses counts sunglasses too, and the faces with glasses "
            "that the suite's data flags as likely sunglasses were left out of training."
        )
    else:
        sunglasses = "Label 1 is CelebA's Eyeglasses, which counts sunglasses too."
    start = (
        f" It started from the DCGAN in `{args.init}` (both networks; the label's parts fresh)." if args.init else ""
    )
    run.publish(
        args.out_dir,
        f"Conditional DCGAN {size}×{size}, width {width}, {epochs} epochs",
        title=f"CelebA conditional GAN, {size}×{size} faces with or without glasses (generative models suite)",
        description=(
            f"A conditional GAN (Mirza & Osindero, 2014) that draws {size}×{size} faces from 100-d N(0, I) noise "
            "and a glasses label: 0 without glasses, 1 with, and anything in between. It is the suite's DCGAN "
            f"({generator.body.net[1].out_channels} → {width} channels) with the label added: in the generator, "
            'a point on the line between two learned 8×8 maps, "without" and "with", added to its 8×8 '
            "activations, so that the 4×4 layout of a face (pose, shape, hair, background) depends on the noise "
            "alone and the same noise gives the same person at every label; in the discriminator, a projection "
            "head per label (Miyato & Koyama, 2018). See `models/conditional_gan.py`. The book (Liu, *Learn "
            "Generative AI with PyTorch*, ch. 5) trains a conditional WGAN-GP; this conditional DCGAN with the "
            "BCE loss is cheaper per step on a CPU. The DCGAN recipe (Adam lr 2e-4 with β1 = 0.5, N(0, 0.02) "
            f"init, one-sided label smoothing {REAL_LABEL}, horizontal flips); each batch's fakes get the labels "
            "of its real faces, and the discriminator also sees the real faces under the wrong label as fakes "
            "(the matching-aware discriminator of Reed et al., 2016), which taught label 0 to leave glasses out "
            f"within an epoch. Faces with glasses are drawn as {args.glasses_share:.0%} of each batch, and men "
            f"as {args.male_share:.0%} of each label's faces, so that adding glasses does not have to change a "
            f"face's sex.{start} The discriminator is in `discriminator/`, to resume or fine-tune.\n\n"
            f"{measured} {sunglasses} Losses of a GAN measure the balance between the two networks, not image "
            "quality: judge the samples."
        ),
        license="other",
        tags=["celeba", "conditional-gan", "dcgan", "gan", "face-generation", "generative-models-suite"],
        data=(
            f"{FACES_DATA_NOTE}\n\nTrained on CelebA's train and validation partitions ({counts}; "
            f"{size}×{size}, the suite's central-square framing of the aligned crops). Because of CelebA's "
            "terms, these weights are for non-commercial research use only."
        ),
        training={
            "epochs": epochs,
            "initial weights": f"the DCGAN in {args.init}" if args.init else "random",
            "image size": f"{size}×{size}",
            "width (channels at full resolution)": width,
            "batch size": args.batch_size,
            "optimizer": f"Adam, lr {args.lr}, betas ({args.beta1}, 0.999), for G and D",
            "sampling": f"glasses {args.glasses_share:.0%} of each batch, men {args.male_share:.0%} of each label",
            "likely sunglasses": "left out" if args.sunglasses == "drop" else "kept, as label 1",
            "stabilisers": f"one-sided label smoothing ({REAL_LABEL}), horizontal flips",
            "discriminator's fakes": "generated faces, and real faces under the wrong label (weight 1/2 each)",
        },
        metrics=results,
        usage=(
            "from models.conditional_gan import glasses_sweep, generate, load_conditional_generator\n"
            f'generator = load_conditional_generator("{args.push_to_hub or args.out_dir}")\n'
            f"with_glasses = generate(generator, count=16, seed=0, glasses=1.0)  # (16, 3, {size}, {size}) in 0..1\n"
            "without = generate(generator, count=16, seed=0, glasses=0.0)  # the same 16 people\n"
            "sweep = glasses_sweep(generator, seed=0, steps=8)  # seed 0's face from without to with"
        ),
    )


if __name__ == "__main__":
    main()
