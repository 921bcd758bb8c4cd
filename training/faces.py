"""CelebA faces with their attribute labels, for the face VAE, the DCGAN and the CycleGAN, and the random
flips and shifts that augment them in training.

Two layouts are read:

* the suite's (`shared/data/faces`): `labels.csv` + `faces64.zip` (+ `faces128.zip` for half of them),
  see shared/data/PROVENANCE-faces.md;
* the official CelebA one, as torchvision.datasets.CelebA lays it out: `img_align_celeba/*.jpg`,
  `list_attr_celeba.txt` and `list_eval_partition.txt` (in the folder given or in its `celeba/`).
  Official images (178×218) get the suite's framing: the central 178×178 square, then resized.

Images are decoded once into memory as uint8 (16,770 faces at 64×64 is 200 MB) so that CPU
training does not spend its time in JPEG decoding. CelebA is for non-commercial research only.
"""

from __future__ import annotations

import argparse
import csv
import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from torch.utils.data import Dataset
from tqdm import tqdm

from models.attributes import gaussian_blur
from training.common import DATA_ROOT

DEFAULT_FACES_DIR = DATA_ROOT / "faces"
SPLITS = {"train": {0}, "val": {1}, "test": {2}, "train+val": {0, 1}, "all": {0, 1, 2}}
FACES_DATA_NOTE = (
    "CelebA (Liu et al., ICCV 2015), aligned and cropped faces with their attribute labels: "
    "for non-commercial research purposes only. The photographs' copyright stays with their owners."
)


def add_face_arguments(parser: argparse.ArgumentParser, width_help: str) -> None:
    """The flags every face model's training script shares: where the faces are, their size, the model's width."""
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_FACES_DIR, help="faces folder (suite or CelebA)")
    parser.add_argument("--image-size", type=int, default=64, help="side of the square faces (64 or 128)")
    parser.add_argument("--width", type=int, default=32, help=width_help)


class FaceDataset(Dataset):
    """(image (3, S, S) float in 0..1, attributes dict) pairs; attribute names are lowercase CelebA names.

    Args:
        root: a folder in the suite's layout or the official CelebA layout.
        image_size: side of the square images returned (64 and 128 are stored; others are resized).
        split: "train", "val", "test", "train+val" or "all" (CelebA's official partitions).
        keep: optional filter on a row's attributes, e.g. `lambda a: a["black_hair"] == 1`.
        limit: keep at most this many faces (tiny runs).
    """

    def __init__(
        self,
        root: Path = DEFAULT_FACES_DIR,
        image_size: int = 64,
        split: str = "train",
        keep: Callable[[dict[str, int]], bool] | None = None,
        limit: int | None = None,
        progress: bool = True,
    ):
        root = Path(root)
        rows = _official_rows(root) if _is_official(root) else _suite_rows(root, image_size)
        rows = [row for row in rows if row["split"] in SPLITS[split] and (keep is None or keep(row["attributes"]))]
        self.rows = rows[:limit]
        if not self.rows:
            raise ValueError(f"No faces in {root} for split {split!r} and the given filter.")
        self.image_size = image_size
        self.attributes = [row["attributes"] for row in self.rows]
        self.images = torch.from_numpy(
            np.stack([_load(row, image_size) for row in tqdm(self.rows, desc="decoding faces", disable=not progress)])
        ).permute(0, 3, 1, 2)  # (N, 3, S, S) uint8

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, int]]:
        return self.images[index].float().div(255), self.attributes[index]

    def labels(self, name: str) -> torch.Tensor:
        """One attribute for every face, as a (N,) long tensor of 0/1."""
        return torch.tensor([attributes[name] for attributes in self.attributes])


def _suite_rows(root: Path, image_size: int) -> list[dict]:
    with open(root / "labels.csv", newline="", encoding="utf-8") as file:
        table = list(csv.DictReader(file))
    attribute_names = [name for name in table[0] if name[:1].isupper() or name[:1].isdigit()]
    use_128 = image_size > 64
    rows = []
    for record in table:
        zip_name, member = (record["zip128"], record["member128"]) if use_128 else (record["zip"], record["member"])
        if not member:
            continue  # no 128×128 copy of this face
        attributes = {name.lower(): int(record[name]) for name in attribute_names}
        attributes["likely_sunglasses"] = int(record.get("likely_sunglasses") or 0)
        rows.append(
            {"zip": root / zip_name, "member": member, "split": int(record["celeba_split"]), "attributes": attributes}
        )
    return rows


def _official_root(root: Path) -> Path:
    return root / "celeba" if (root / "celeba" / "list_attr_celeba.txt").exists() else root


def _is_official(root: Path) -> bool:
    return (_official_root(root) / "list_attr_celeba.txt").exists()


def _official_rows(root: Path) -> list[dict]:
    root = _official_root(root)
    lines = (root / "list_attr_celeba.txt").read_text().split("\n")
    names = [name.lower() for name in lines[1].split()]
    partition_file = root / "list_eval_partition.txt"
    partitions = {}
    if partition_file.exists():
        partitions = dict(line.split() for line in partition_file.read_text().split("\n") if line.strip())
    rows = []
    for line in lines[2:]:
        if not line.strip():
            continue
        file_name, *values = line.split()
        attributes = {name: int(value == "1") for name, value in zip(names, values, strict=True)}
        attributes["likely_sunglasses"] = 0  # only the suite's layout carries this heuristic
        rows.append(
            {
                "path": root / "img_align_celeba" / file_name,
                "split": int(partitions.get(file_name, 0)),
                "attributes": attributes,
            }
        )
    return rows


_open_zips: dict[Path, zipfile.ZipFile] = {}


def _load(row: dict, image_size: int) -> np.ndarray:
    if "zip" in row:
        if row["zip"] not in _open_zips:
            _open_zips[row["zip"]] = zipfile.ZipFile(row["zip"])
        archive = _open_zips[row["zip"]]
        image = Image.open(io.BytesIO(archive.read(row["member"]))).convert("RGB")
    else:
        image = Image.open(row["path"]).convert("RGB")
        width, height = image.size
        if (width, height) == (178, 218):  # official aligned CelebA: the suite's central square
            image = image.crop((0, 20, 178, 198))
    if image.size != (image_size, image_size):
        side = min(image.size)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        image = image.crop((left, top, left + side, top + side)).resize(
            (image_size, image_size), Image.Resampling.LANCZOS
        )
    return np.asarray(image, dtype=np.uint8)


def random_flip(images: torch.Tensor) -> torch.Tensor:
    """Mirror about half the faces left to right (aligned faces stay aligned)."""
    flip = torch.rand(images.shape[0], 1, 1, 1, device=images.device) < 0.5
    return torch.where(flip, images.flip(-1), images)


def augment(images: torch.Tensor, max_shift: int, blur_share: float = 0.0, max_blur: float = 0.0) -> torch.Tensor:
    """Random flip, shift (reflected borders) and, on some faces, Gaussian blur; (B, 3, S, S) in 0..1."""
    batch, _, size, _ = images.shape
    images = random_flip(images)
    if max_shift:
        padded = F.pad(images, [max_shift] * 4, mode="reflect")
        dy, dx = (torch.randint(0, 2 * max_shift + 1, (2, batch, 1), device=images.device)).unbind(0)
        rows = (torch.arange(size, device=images.device) + dy)[:, None, :, None]  # (B, 1, S, 1)
        columns = (torch.arange(size, device=images.device) + dx)[:, None, None, :]  # (B, 1, 1, S)
        channels = torch.arange(3, device=images.device)[None, :, None, None]
        images = padded[torch.arange(batch, device=images.device)[:, None, None, None], channels, rows, columns]
    if not (blur_share and max_blur):
        return images
    sigma = torch.rand(batch, device=images.device) * max_blur
    sigma = torch.where(torch.rand(batch, device=images.device) < blur_share, sigma, torch.zeros_like(sigma))
    return gaussian_blur(images, sigma)


def tiny_synthetic_faces(folder: Path, count: int = 48, seed: int = 0) -> Path:
    """Write a small folder in the suite's layout with cartoon faces and random attributes; returns it.

    Faces with `eyeglasses` = 1 get dark rings round the eyes and `blond_hair` = 1 a yellow fringe,
    so models trained on them have something real to pick up. For tests and smoke runs.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    with (
        zipfile.ZipFile(folder / "faces64.zip", "w") as zip64,
        zipfile.ZipFile(folder / "faces128.zip", "w") as zip128,
    ):
        for index in range(count):
            glasses, male, blond = (int(value) for value in rng.integers(0, 2, 3))
            attributes = {"Eyeglasses": glasses, "Male": male, "Black_Hair": 1 - blond, "Blond_Hair": blond}
            attributes["Smiling"] = int(rng.integers(0, 2))
            name = f"{index + 1:06d}.jpg"
            for size, archive, prefix in ((64, zip64, "faces64"), (128, zip128, "faces128")):
                buffer = io.BytesIO()
                cartoon_face(size, attributes, rng).save(buffer, format="JPEG", quality=95)
                archive.writestr(f"{prefix}/{name}", buffer.getvalue())
            rows.append(
                {
                    "celeba_image": name,
                    "zip": "faces64.zip",
                    "member": f"faces64/{name}",
                    "zip128": "faces128.zip",
                    "member128": f"faces128/{name}",
                    "celeba_split": 1 if index % 8 == 0 else 0,
                    "likely_sunglasses": 0,
                    **attributes,
                }
            )
    with open(folder / "labels.csv", "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder


def cartoon_face(size: int, attributes: dict[str, int], rng: np.random.Generator) -> Image.Image:
    """A cartoon face (hair colour and glasses from `attributes`) for tests and benchmarks: not a real face."""
    unit = size / 64
    background = tuple(int(value) for value in rng.integers(40, 220, 3))
    image = Image.new("RGB", (size, size), background)
    pen = ImageDraw.Draw(image)
    hair = (230, 200, 90) if attributes["Blond_Hair"] else (25, 20, 20)
    pen.ellipse([14 * unit, 6 * unit, 50 * unit, 40 * unit], fill=hair)
    skin = tuple(int(value) for value in rng.integers(150, 235, 3))
    pen.ellipse([18 * unit, 14 * unit, 46 * unit, 58 * unit], fill=skin)
    for eye_x in (25, 39):
        pen.ellipse([(eye_x - 2) * unit, 32 * unit, (eye_x + 2) * unit, 36 * unit], fill=(30, 30, 30))
        if attributes["Eyeglasses"]:
            pen.ellipse([(eye_x - 5) * unit, 29 * unit, (eye_x + 5) * unit, 39 * unit], outline=(0, 0, 0), width=2)
    pen.line([26 * unit, 49 * unit, 38 * unit, 49 * unit], fill=(150, 40, 40), width=max(1, int(2 * unit)))
    return image
