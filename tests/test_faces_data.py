"""The face data code reads the suite's layout and the official CelebA layout alike."""

import numpy as np
import pytest
from PIL import Image

from training.faces import FaceDataset, cartoon_face, tiny_synthetic_faces


def test_suite_layout_at_64_and_128(tmp_path):
    folder = tiny_synthetic_faces(tmp_path / "faces", count=24)
    train = FaceDataset(folder, 64, "train", progress=False)
    val = FaceDataset(folder, 128, "val", progress=False)
    assert len(train) + len(val) == 24
    image, attributes = train[0]
    assert image.shape == (3, 64, 64) and 0 <= image.min() and image.max() <= 1
    assert {"eyeglasses", "male", "black_hair", "blond_hair"} <= set(attributes)
    assert val[0][0].shape == (3, 128, 128)
    blond = FaceDataset(folder, 64, "train+val", keep=lambda a: a["blond_hair"] == 1, progress=False)
    assert blond.labels("blond_hair").min() == 1


def write_official_layout(root, count=6):
    """torchvision's CelebA layout: img_align_celeba/ (178×218 JPEGs), attributes with 1/-1, partitions."""
    images = root / "celeba" / "img_align_celeba"
    images.mkdir(parents=True)
    names = ["Eyeglasses", "Male", "Black_Hair", "Blond_Hair"]
    rows, partitions = [], []
    rng = np.random.default_rng(0)
    for index in range(count):
        name = f"{index + 1:06d}.jpg"
        glasses = index % 2
        canvas = Image.new("RGB", (178, 218), (255, 0, 0))  # red where the crop should cut it away
        canvas.paste(cartoon_face(178, {"Eyeglasses": glasses, "Blond_Hair": 0}, rng), (0, 20))
        canvas.save(images / name, quality=95)
        rows.append(f"{name} {' '.join('1' if value else '-1' for value in (glasses, 1, 1, 0))}")
        partitions.append(f"{name} {0 if index < 4 else 1}")
    (root / "celeba" / "list_attr_celeba.txt").write_text(f"{count}\n{' '.join(names)}\n" + "\n".join(rows) + "\n")
    (root / "celeba" / "list_eval_partition.txt").write_text("\n".join(partitions) + "\n")


@pytest.mark.parametrize("point_at", ["root", "celeba"])
def test_official_celeba_layout(tmp_path, point_at):
    write_official_layout(tmp_path)
    root = tmp_path if point_at == "root" else tmp_path / "celeba"
    train = FaceDataset(root, 64, "train", progress=False)
    assert len(train) == 4 and len(FaceDataset(root, 64, "val", progress=False)) == 2
    assert train.labels("eyeglasses").tolist() == [0, 1, 0, 1]
    assert train.labels("male").tolist() == [1, 1, 1, 1]
    image = train[0][0]
    assert image.shape == (3, 64, 64)
    red = (image[0] > 0.9) & (image[1] < 0.1) & (image[2] < 0.1)
    assert red.float().mean() < 0.02  # the central 178×178 square was kept, the red margins cropped
