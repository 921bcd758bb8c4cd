"""Figures and example inputs made by the shipped face models (no data set needed, none committed).

    python -m training.make_face_examples

Writes, from what is in weights/:
- docs/faces-dcgan-64.png: the 64 DCGAN faces of seed 0 (the face generation tab at 64 faces);
- docs/glasses-presets.png: each glasses preset's decoded inputs and its result, one row each;
- docs/hair-cyclegan.png: DCGAN faces, their hair recoloured by the CycleGAN (direction chosen automatically,
  as the tab does), and the round trip back;
- weights/examples/face_<n>.png: DCGAN faces at 128×128, example inputs for the face tabs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torchvision.utils import make_grid

from models import cyclegan, dcgan, face_vae
from models.imaging import tensor_to_image


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights-dir", type=Path, default=Path("weights"))
    parser.add_argument("--docs-dir", type=Path, default=Path("docs"))
    parser.add_argument("--examples", type=int, default=4, help="how many example faces to write")
    args = parser.parse_args(argv)
    args.docs_dir.mkdir(parents=True, exist_ok=True)

    faces = None  # the DCGAN's, reused by the hair figure
    if (args.weights_dir / "faces-dcgan" / "config.json").exists():
        generator = dcgan.load_generator(args.weights_dir / "faces-dcgan")
        faces = dcgan.generate(generator, 64, seed=0)
        tensor_to_image(make_grid(faces, nrow=8, padding=2), scale=2).save(args.docs_dir / "faces-dcgan-64.png")
        examples = args.weights_dir / "examples"
        examples.mkdir(exist_ok=True)
        for index, face in enumerate(faces[: args.examples]):
            tensor_to_image(face, scale=2).save(examples / f"face_{index}.png")
        print(f"Wrote {args.docs_dir / 'faces-dcgan-64.png'} and {args.examples} example faces")

    if (args.weights_dir / "faces-vae" / "config.json").exists():
        bundle = face_vae.load_face_vae(args.weights_dir / "faces-vae")
        rows = []
        for weights in face_vae.PRESETS.values():
            used = [group for group, weight in weights.items() if weight]
            inputs = face_vae.decode_latents(bundle.model, torch.stack([bundle.vectors[group] for group in used]))
            result = face_vae.arithmetic(bundle.model, bundle.vectors, weights)
            blank = torch.ones(4 - len(used), *result.shape[1:])  # rows of 2 inputs are padded to 3
            rows.append(torch.cat([inputs, blank, result]))
        grid = make_grid(torch.cat(rows), nrow=5, padding=2, pad_value=1)
        tensor_to_image(grid, scale=2).save(args.docs_dir / "glasses-presets.png")
        print(f"Wrote {args.docs_dir / 'glasses-presets.png'}: inputs, then the result, one preset per row")

    if faces is not None and (args.weights_dir / "hair-cyclegan" / "config.json").exists():
        generators = cyclegan.load_cyclegan(args.weights_dir / "hair-cyclegan")
        faces = torch.nn.functional.interpolate(faces[:8], size=generators.image_size, mode="area")
        translated, back = [], []
        for face, choice in zip(faces, cyclegan.choose_direction(faces)):
            there, here = cyclegan.round_trip(generators, face[None], choice.direction)
            translated.append(there[0])
            back.append(here[0])
        grid = make_grid(torch.cat([faces, torch.stack(translated), torch.stack(back)]), nrow=8, padding=2, pad_value=1)
        tensor_to_image(grid, scale=2).save(args.docs_dir / "hair-cyclegan.png")
        print(f"Wrote {args.docs_dir / 'hair-cyclegan.png'}: DCGAN faces, translated, and back")


if __name__ == "__main__":
    main()
