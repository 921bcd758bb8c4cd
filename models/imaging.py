"""Opening user images safely, and turning model outputs into images to show.

Every image tab goes through `open_image`, so an upload that is not an image, is truncated,
is absurdly large, or is in an unusual mode (16-bit, CMYK, palette, animated) gets one clear
`ImageInputError` message instead of a stack trace.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

# Far above any real photo or drawing, far below what would exhaust memory (a 4-byte-per-pixel
# copy of this many pixels is 160 MB).
MAX_IMAGE_PIXELS = 40_000_000
# Inputs are shrunk to this longest side before any other work: models want 28-128 px anyway.
WORKING_SIZE = 1024


class ImageInputError(ValueError):
    """An input image the app cannot use; the message is meant for the user."""


def open_image(source: str | Path | bytes | Image.Image | np.ndarray | None) -> Image.Image:
    """Open an image from a path, bytes, PIL image or array as "L", "RGB" or "RGBA".

    Applies the EXIF orientation, takes the first frame of animations, maps 16-bit and float
    images to 8 bits, CMYK to RGB, palette images to RGB(A), and shrinks very large images
    to at most `WORKING_SIZE` pixels on their longest side.
    """
    if source is None:
        raise ImageInputError("No image was given: upload an image or draw one first.")
    if isinstance(source, np.ndarray):
        image = _array_to_image(source)
    elif isinstance(source, Image.Image):
        image = source
    else:
        image = _open_file(source)

    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageInputError(
            f"The image is {width}×{height} pixels, too large to process "
            f"(at most {MAX_IMAGE_PIXELS // 1_000_000} megapixels). Please resize it first."
        )
    if min(width, height) < 1:
        raise ImageInputError("The image is empty (zero pixels).")
    try:
        image.seek(0)  # first frame of an animated GIF/WebP/APNG
    except (AttributeError, EOFError):
        pass
    try:
        image = ImageOps.exif_transpose(image)
        if max(image.size) > WORKING_SIZE:
            image = image.copy()
            image.draft("RGB", (WORKING_SIZE, WORKING_SIZE))  # cheap JPEG downscale on decode
            image.thumbnail((WORKING_SIZE, WORKING_SIZE), Image.Resampling.BOX)
        return _to_standard_mode(image)
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageInputError(f"The image file is truncated or corrupt ({error}).") from error


def _open_file(source: str | Path | bytes) -> Image.Image:
    data = io.BytesIO(source) if isinstance(source, bytes) else source
    if not isinstance(source, bytes) and Path(source).stat().st_size == 0:
        raise ImageInputError("The uploaded file is empty (0 bytes).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(data)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageInputError(
            f"The image is too large to process (at most {MAX_IMAGE_PIXELS // 1_000_000} megapixels)."
        ) from error
    except UnidentifiedImageError as error:
        raise ImageInputError(
            "This file is not an image that can be read (PNG, JPEG, WebP, GIF, BMP and TIFF work)."
        ) from error
    except (OSError, ValueError) as error:  # ValueError: e.g. a PNG whose metadata chunks are too large
        raise ImageInputError(f"The image file could not be read ({error}).") from error
    return image


def _array_to_image(array: np.ndarray) -> Image.Image:
    if array.size == 0:
        raise ImageInputError("The image is empty (zero pixels).")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageInputError(f"Expected a grayscale, RGB or RGBA image array, got shape {array.shape}.")
    return Image.fromarray(_to_uint8(array))


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    values = np.nan_to_num(array.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if np.issubdtype(array.dtype, np.floating) and values.max(initial=0.0) <= 1.0:
        scale = 1.0  # floats in 0..1
    elif values.max(initial=0.0) <= 255:
        scale = 255.0
    else:
        scale = 65535.0  # 16-bit data
    return np.clip(values / scale * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _to_standard_mode(image: Image.Image) -> Image.Image:
    """Map any PIL mode to "L", "RGB" or "RGBA" (8 bits per channel)."""
    if image.mode in ("L", "RGB", "RGBA"):
        return image
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return Image.fromarray(_to_uint8(np.asarray(image)))
    if image.mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("LA", "La", "PA", "RGBa"):
        return image.convert("RGBA")
    if image.mode == "1":
        return image.convert("L")
    if image.mode == "CMYK":
        return image.convert("RGB")
    return image.convert("RGB")  # YCbCr, LAB, HSV, ...


def tensor_to_image(image: torch.Tensor, scale: int = 1) -> Image.Image:
    """A (C, H, W) tensor in 0..1 to a PIL image, optionally upscaled with nearest neighbours."""
    array = image.detach().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()
    pil = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
    if scale > 1:
        pil = pil.resize((pil.width * scale, pil.height * scale), Image.Resampling.NEAREST)
    return pil


MIN_FACE_SIDE = 32


def face_tensor(source: str | Path | bytes | Image.Image | np.ndarray | None, size: int) -> torch.Tensor:
    """An uploaded photo as a (3, size, size) tensor in 0..1, framed like the training faces.

    The face models were trained on CelebA's aligned crops: a face filling most of a square frame,
    eyes about halfway up. A portrait photo works best; this takes its central square (the
    largest that fits), resizes it, and composites any transparency over white.
    """
    image = open_image(source)
    if min(image.size) < MIN_FACE_SIDE:
        raise ImageInputError(
            f"The image is {image.width}×{image.height} pixels: too small to show a face "
            f"(at least {MIN_FACE_SIDE}×{MIN_FACE_SIDE})."
        )
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        image = background
    image = ImageOps.fit(image.convert("RGB"), (size, size), Image.Resampling.LANCZOS)
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)
