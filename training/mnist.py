"""MNIST as tensors, from a local copy of the original files (or downloaded where allowed)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import torch
from PIL import Image, ImageDraw
from torch.utils.data import TensorDataset
from torchvision.datasets import MNIST

from training.common import CACHE_ROOT, DATA_ROOT

DEFAULT_MNIST_DIR = DATA_ROOT / "mnist"
RAW_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def load_mnist(data_dir: Path = DEFAULT_MNIST_DIR, limit: int | None = None) -> tuple[TensorDataset, TensorDataset]:
    """Train and test sets of (image (1, 28, 28) float in 0..1, label).

    `data_dir` is a torchvision MNIST root (with `MNIST/raw/`). The original `.gz` files are
    decompressed into a cache folder, never into `data_dir`, which may be read-only or shared.
    With no local files, torchvision downloads them into the cache (where the network allows).
    `limit` keeps the first N images of each split (tiny mode).
    """
    root = _readable_root(Path(data_dir))
    splits = []
    for train in (True, False):
        dataset = MNIST(root, train=train, download=not _has_raw(root))
        images = dataset.data[:limit].unsqueeze(1).float().div(255)
        splits.append(TensorDataset(images, dataset.targets[:limit]))
    return splits[0], splits[1]


def _has_raw(root: Path) -> bool:
    return all((root / "MNIST" / "raw" / name).exists() for name in RAW_FILES)


def _readable_root(data_dir: Path) -> Path:
    if _has_raw(data_dir):
        return data_dir
    cache = CACHE_ROOT / "mnist"
    cache_raw = cache / "MNIST" / "raw"
    for name in RAW_FILES:
        compressed = data_dir / "MNIST" / "raw" / f"{name}.gz"
        if compressed.exists() and not (cache_raw / name).exists():
            cache_raw.mkdir(parents=True, exist_ok=True)
            with gzip.open(compressed, "rb") as source, open(cache_raw / f"{name}.partial", "wb") as target:
                shutil.copyfileobj(source, target)
            (cache_raw / f"{name}.partial").replace(cache_raw / name)
    return cache


def tiny_synthetic_mnist(folder: Path, count: int = 64, seed: int = 0) -> Path:
    """Write a small MNIST-format root of random strokes (for tests and smoke runs); returns it."""
    generator = torch.Generator().manual_seed(seed)
    raw = folder / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix in ("train", "t10k"):
        images = torch.zeros(count, 28, 28, dtype=torch.uint8)
        for index in range(count):  # a bright bar at a random place: enough structure to learn
            row, col = torch.randint(4, 20, (2,), generator=generator).tolist()
            images[index, row : row + 6, col : col + 3] = 255
        labels = torch.randint(0, 10, (count,), generator=generator, dtype=torch.uint8)
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", images, magic=2051)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels, magic=2049)
    return folder


def _write_idx(path: Path, array: torch.Tensor, magic: int) -> None:
    header = magic.to_bytes(4, "big") + b"".join(size.to_bytes(4, "big") for size in array.shape)
    path.write_bytes(header + array.numpy().tobytes())


def draw_digit(kind: str = "one", size: int = 200, ink: int = 0, paper: int = 255) -> Image.Image:
    """A digit-like drawing in grayscale: "one" is a vertical bar, "zero" an ellipse."""
    image = Image.new("L", (size, size), paper)
    pen = ImageDraw.Draw(image)
    width = max(2, size // 12)
    if kind == "one":
        pen.line([(size * 0.5, size * 0.15), (size * 0.5, size * 0.85)], fill=ink, width=width)
    else:
        pen.ellipse([size * 0.25, size * 0.15, size * 0.75, size * 0.85], outline=ink, width=width)
    return image
