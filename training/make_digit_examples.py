"""Save digits drawn by the shipped VAE as example inputs for the app (no data set needed).

    python -m training.make_digit_examples [--vae weights/digits-vae] [--count 6] [--seed 0]

Writes weights/examples/digit_<n>.png: 112×112 PNGs, alternating white ink on black (as MNIST)
and black ink on white (as a drawing), so the examples also show that both polarities work.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import ImageOps

from models.digits import VAE, sample
from models.imaging import tensor_to_image


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vae", type=Path, default=Path("weights/digits-vae"))
    parser.add_argument("--out-dir", type=Path, default=Path("weights/examples"))
    parser.add_argument("--count", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    digits = sample(VAE.from_pretrained(args.vae), args.count, args.seed)
    for index, digit in enumerate(digits):
        image = tensor_to_image(digit, scale=4)
        if index % 2:
            image = ImageOps.invert(image)
        image.save(args.out_dir / f"digit_{index}.png")
    print(f"Wrote {args.count} examples to {args.out_dir}")


if __name__ == "__main__":
    main()
