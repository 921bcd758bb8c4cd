import io

import numpy as np
import pytest
import torch
from PIL import Image

from models.imaging import MAX_IMAGE_PIXELS, WORKING_SIZE, ImageInputError, open_image, tensor_to_image


def save(image: Image.Image, path, **kwargs):
    image.save(path, **kwargs)
    return path


def test_modes_become_l_rgb_or_rgba(tmp_path):
    cases = {
        "cmyk.jpg": Image.new("CMYK", (20, 10), (0, 255, 255, 0)),
        "palette.png": Image.new("P", (20, 10), 3),
        "la.png": Image.new("LA", (20, 10), (100, 128)),
        "bilevel.png": Image.new("1", (20, 10), 1),
        "sixteen.png": Image.fromarray(np.full((10, 20), 65535, dtype=np.uint16)),
    }
    for name, image in cases.items():
        opened = open_image(save(image, tmp_path / name))
        assert opened.mode in ("L", "RGB", "RGBA"), name
        assert opened.size == (20, 10), name
    assert np.asarray(open_image(tmp_path / "sixteen.png")).max() == 255  # 16-bit white stays white


def test_exif_rotation_is_applied(tmp_path):
    image = Image.new("RGB", (30, 10))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90° when displayed
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif)
    assert open_image(path).size == (10, 30)


def test_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("L", (8, 8), value) for value in (10, 200)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    assert np.asarray(open_image(path).convert("L")).mean() == pytest.approx(10, abs=2)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"this is plain text, not a picture", "not an image"),
    ],
)
def test_unreadable_files_get_clear_messages(tmp_path, content, message):
    path = tmp_path / "fake.png"
    path.write_bytes(content)
    with pytest.raises(ImageInputError, match=message):
        open_image(path)


def test_truncated_file_is_reported(tmp_path):
    buffer = io.BytesIO()
    Image.effect_noise((256, 256), 64).convert("RGB").save(buffer, format="JPEG")
    path = tmp_path / "truncated.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 3])
    with pytest.raises(ImageInputError, match="truncated or corrupt"):
        open_image(path)


def test_huge_images_are_refused_and_large_ones_shrunk(tmp_path):
    side = int(MAX_IMAGE_PIXELS**0.5) + 100
    with pytest.raises(ImageInputError, match="too large"):
        open_image(save(Image.new("L", (side, side)), tmp_path / "huge.png"))
    large = open_image(save(Image.new("L", (3000, 1500)), tmp_path / "large.png"))
    assert max(large.size) == WORKING_SIZE


def test_arrays_of_any_dtype(tmp_path):
    assert open_image(np.zeros((5, 6, 4), dtype=np.uint8)).mode == "RGBA"
    assert np.asarray(open_image(np.ones((5, 6), dtype=np.float32))).max() == 255
    with pytest.raises(ImageInputError):
        open_image(np.zeros((5, 6, 7)))
    with pytest.raises(ImageInputError):
        open_image(None)


def test_tensor_to_image_upscales_with_nearest_neighbours():
    image = torch.zeros(1, 2, 2)
    image[0, 0, 0] = 1
    pil = tensor_to_image(image, scale=4)
    assert pil.size == (8, 8)
    assert np.asarray(pil)[:4, :4].min() == 255 and np.asarray(pil)[4:, :].max() == 0


def test_face_tensor_crops_the_centre_and_resizes(tmp_path):
    from models.imaging import face_tensor

    image = Image.new("RGB", (300, 200), (255, 0, 0))
    image.paste((0, 0, 255), (50, 0, 250, 200))  # the central 200×200 square is blue
    face = face_tensor(image, 64)
    assert face.shape == (3, 64, 64)
    assert face[2].mean() > 0.95 and face[0].mean() < 0.05
    gray = face_tensor(Image.new("L", (100, 100), 128), 32)
    assert gray.shape == (3, 32, 32) and torch.allclose(gray, torch.full_like(gray, 128 / 255), atol=1e-6)
    transparent = face_tensor(Image.new("RGBA", (64, 64), (0, 0, 0, 0)), 64)
    assert transparent.min() == 1.0  # transparency becomes white
    with pytest.raises(ImageInputError, match="too small"):
        face_tensor(Image.new("RGB", (1, 1)), 64)
