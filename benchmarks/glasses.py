"""Glasses benchmark: does the face VAE keep, add and remove glasses on real faces it never saw?

    python -m benchmarks.glasses --weights weights/faces-vae
    python -m benchmarks.glasses --weights /root/runs/faces-vaegan-export --figures /tmp/glasses --json out.json
    python -m benchmarks.glasses --weights weights/faces-vae --split train --limit 2000   # to choose a strength

The judge is the suite's attribute classifier (`models/attributes.py`, --classifier), with the decision
thresholds stored in its config. On CelebA's validation partition (--split) it reports:

* reconstruction: of the faces labelled with clear glasses (CelebA's Eyeglasses, not flagged
  `likely_sunglasses`), the share whose posterior-mean reconstruction the classifier reads as glasses
  ("keeps"); also of those it reads as glasses on the photo itself; of the faces without glasses, the
  share whose reconstruction it reads as glasses (false glasses);
* add glasses: of the faces without glasses, the share read as glasses after `edit_glasses` at each
  strength, and the share whose sex reading is the photo's;
* remove glasses: the same for the faces with clear glasses at the negative strengths;
* both again for the photo-space edit (photo + decode(z + d) − decode(z), `in_photo=True`);
* every preset: the glasses and sex probabilities of its result, and whether each is what its name promises;
* the held-out MSE per pixel of the posterior-mean reconstruction.

Choose a default strength on the training partition (--split train), never on the validation faces the
figures are reported on. --figures writes grids to look at (the faces stay out of the repository).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision.utils import save_image

from models.attributes import AttributeClassifier, decide, load_attribute_classifier, predict
from models.face_vae import PRESETS, FaceVAEBundle, arithmetic, edit_glasses, load_face_vae, reconstruct, sample
from training.faces import DEFAULT_FACES_DIR, FaceDataset

PAGE_STRENGTH = 1.5  # the glasses tab's default strength (its slider), and -1.5 for removing
STRENGTHS = (1.0, 1.5, 2.0, 2.5, 3.0)
VERDICTS = {True: "yes", False: "NO", None: "-"}


def promise(preset: str) -> dict[str, bool] | None:
    """What a preset's name says its result shows ("... = woman with glasses"); None if it says nothing."""
    if "=" not in preset:
        return None
    result = preset.rsplit("=", 1)[1]
    return {"eyeglasses": "without glasses" not in result, "male": "woman" not in result}


def share(hits: torch.Tensor, among: torch.Tensor) -> float:
    return float(hits[among].float().mean()) if among.any() else math.nan


def readings(classifier: AttributeClassifier, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """The classifier's yes/no for glasses and sex, (N,) bool each."""
    said = decide(classifier, predict(classifier, images))
    return {"glasses": said["eyeglasses"], "male": said["male"]}


def edit_figures(
    bundle: FaceVAEBundle,
    classifier: AttributeClassifier,
    images: torch.Tensor,
    photo: dict[str, torch.Tensor],
    rebuilt: dict[str, torch.Tensor],
    clear: torch.Tensor,
    without: torch.Tensor,
    strengths: tuple[float, ...],
    in_photo: bool,
) -> dict[str, float]:
    """Add (positive strengths, faces without glasses) and remove (negative, clear glasses): the share of
    successes, and of sex readings unchanged from the photo's and from the reconstruction's."""
    figures = {}
    for strength in strengths:
        for sign, name, among in ((1, "add", without), (-1, "remove", clear)):
            edited = edit_glasses(bundle.model, bundle.vectors, images[among], sign * strength, in_photo=in_photo)
            said = readings(classifier, edited)
            success = said["glasses"] if sign > 0 else ~said["glasses"]
            figures[f"{name}_{strength:g}"] = float(success.float().mean())
            figures[f"{name}_{strength:g}_sex_kept"] = float((said["male"] == photo["male"][among]).float().mean())
            as_rebuilt = said["male"] == rebuilt["male"][among]
            figures[f"{name}_{strength:g}_sex_as_reconstructed"] = float(as_rebuilt.float().mean())
    return figures


def benchmark(
    bundle: FaceVAEBundle,
    classifier: AttributeClassifier,
    faces: FaceDataset,
    strengths: tuple[float, ...] = STRENGTHS,
) -> dict:
    """Every figure of the module's docstring, as fractions in 0..1 (NaN where a group of faces is empty)."""
    images = faces.images.float().div(255)
    glasses, male = faces.labels("eyeglasses").bool(), faces.labels("male").bool()
    sunglasses = torch.tensor([attributes.get("likely_sunglasses", 0) for attributes in faces.attributes]).bool()
    clear, without = glasses & ~sunglasses, ~glasses
    photo = readings(classifier, images)
    reconstructions = torch.cat([reconstruct(bundle.model, batch) for batch in images.split(256)])
    rebuilt = readings(classifier, reconstructions)

    figures: dict = {
        "faces": len(images),
        "clear_glasses_faces": int(clear.sum()),
        "faces_without_glasses": int(without.sum()),
        "mse": float(F.mse_loss(reconstructions, images)),
        "photo_reads_glasses": share(photo["glasses"], clear),
        "photo_reads_sex_right": float((photo["male"] == male).float().mean()),
        "reconstruction_keeps_glasses": share(rebuilt["glasses"], clear),
        "reconstruction_keeps_glasses_read_on_photo": share(rebuilt["glasses"], clear & photo["glasses"]),
        "reconstruction_false_glasses": share(rebuilt["glasses"], without),
        "reconstruction_sex_kept": float((rebuilt["male"] == photo["male"]).float().mean()),
    }
    for in_photo, prefix in ((False, "latent"), (True, "photo")):
        edits = edit_figures(bundle, classifier, images, photo, rebuilt, clear, without, strengths, in_photo)
        figures.update({f"{prefix}_{name}": value for name, value in edits.items()})

    presets = {}
    for name, weights in PRESETS.items():
        probabilities = predict(classifier, arithmetic(bundle.model, bundle.vectors, weights))
        said = {"eyeglasses": float(probabilities["eyeglasses"][0]), "male": float(probabilities["male"][0])}
        promised = promise(name) or {}
        for key, value in promised.items():
            said[f"{key}_as_promised"] = (said[key] >= classifier.thresholds[key]) == value
        presets[name] = said
    figures["presets"] = presets
    return figures


def report(figures: dict, strengths: tuple[float, ...]) -> str:
    def percent(value: float) -> str:
        return "  n/a" if math.isnan(value) else f"{100 * value:4.0f}%"

    lines = [
        f"{figures['faces']} faces: {figures['clear_glasses_faces']} with clear glasses, "
        f"{figures['faces_without_glasses']} without",
        f"held-out MSE per pixel: {figures['mse']:.5f}",
        f"classifier on the photos: reads the clear glasses on {percent(figures['photo_reads_glasses'])}, "
        f"the labelled sex on {percent(figures['photo_reads_sex_right'])}",
        f"reconstruction keeps clear glasses: {percent(figures['reconstruction_keeps_glasses'])} "
        f"({percent(figures['reconstruction_keeps_glasses_read_on_photo'])} of those read on the photo); "
        f"false glasses {percent(figures['reconstruction_false_glasses'])}; "
        f"sex kept {percent(figures['reconstruction_sex_kept'])}",
    ]
    for prefix, title in (("latent", "latent edit, decode(z ± s·d)"), ("photo", "photo + decode(z ± s·d) − decode(z)")):
        lines += ["", f"{title}: success, sex kept (as on the photo / as on the reconstruction)"]
        lines.append("strength           add   sex  (recon)     remove   sex  (recon)")
        for strength in strengths:
            cells = []
            for name in ("add", "remove"):
                key = f"{prefix}_{name}_{strength:g}"
                cells.append(
                    f"{percent(figures[key])}  {percent(figures[f'{key}_sex_kept'])}  "
                    f"({percent(figures[f'{key}_sex_as_reconstructed'])})"
                )
            mark = " (page)" if strength == PAGE_STRENGTH else "       "
            lines.append(f"±{strength:<4g}{mark}   " + "     ".join(cells))
    lines += ["", "presets: glasses p, male p; glasses and sex as the name promises"]
    for name, said in figures["presets"].items():
        verdicts = [VERDICTS[said.get(f"{key}_as_promised")] for key in ("eyeglasses", "male")]
        lines.append(f"  {said['eyeglasses']:.2f}  {said['male']:.2f}  {verdicts[0]:>3}  {verdicts[1]:>3}  {name}")
    return "\n".join(lines)


@torch.no_grad()
def save_figures(bundle: FaceVAEBundle, faces: FaceDataset, folder: Path, strength: float = PAGE_STRENGTH) -> None:
    """Grids: clear-glasses faces (photo, reconstruction, glasses removed in latent and in photo space);
    faces without (photo, reconstruction, glasses added both ways); the presets; 32 prior samples."""
    folder.mkdir(parents=True, exist_ok=True)
    images = faces.images.float().div(255)
    glasses = faces.labels("eyeglasses").bool()
    sunglasses = torch.tensor([attributes.get("likely_sunglasses", 0) for attributes in faces.attributes]).bool()
    model, vectors = bundle.model, bundle.vectors
    for name, chosen, sign in (("remove", glasses & ~sunglasses, -1), ("add", ~glasses, 1)):
        picked = images[chosen][:8]
        rows = [
            picked,
            reconstruct(model, picked),
            edit_glasses(model, vectors, picked, sign * strength),
            edit_glasses(model, vectors, picked, sign * strength, in_photo=True),
        ]
        save_image(torch.cat(rows), folder / f"{name}_glasses.png", nrow=len(picked))
    presets = torch.cat([arithmetic(model, vectors, weights) for weights in PRESETS.values()])
    save_image(presets, folder / "presets.png", nrow=len(presets))
    save_image(sample(model, 32, seed=0), folder / "samples.png", nrow=8)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=Path("weights/faces-vae"), help="a face VAE folder")
    parser.add_argument("--classifier", type=Path, default=Path("weights/face-attributes"))
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_FACES_DIR)
    parser.add_argument("--split", default="val", help="CelebA partition: val (report) or train (choose)")
    parser.add_argument("--limit", type=int, help="the first N faces of the partition")
    parser.add_argument("--strengths", type=float, nargs="+", default=list(STRENGTHS), help="positive sizes")
    parser.add_argument("--figures", type=Path, help="write grids of faces to this folder")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args(argv)
    if min(args.strengths) <= 0:
        parser.error("--strengths are sizes: each is used to add (+) and to remove (−) glasses")

    bundle, classifier = load_face_vae(args.weights), load_attribute_classifier(args.classifier)
    faces = FaceDataset(args.data_dir, bundle.model.image_size, args.split, limit=args.limit, progress=False)
    strengths = tuple(args.strengths)
    figures = benchmark(bundle, classifier, faces, strengths)
    print(f"{args.weights} on CelebA {args.split}, judged by {args.classifier}")
    print(report(figures, strengths))
    if args.figures:
        save_figures(bundle, faces, args.figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return figures


if __name__ == "__main__":
    main()
