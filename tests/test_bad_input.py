"""Bad input sent to the running app the way a user or an API caller would send it, on every tab.

Every case goes to `python app.py` (serving the session's tiny models, `tiny_client` in
tests/conftest.py) over HTTP, and must end in one of two ways:

* a clear message: gradio_client raises `AppError` carrying the message the page would show,
  which must hold a specific readable phrase and no stack trace;
* or, where the input is acceptable after all (grayscale or RGBA faces, 16-bit, CMYK, palette,
  EXIF-rotated and animated images, emoji in a prompt), a valid output of the right type and size.

After each case the server must still answer `/model_status`.

NaN and infinity: gradio_client sends strict JSON and refuses to encode them, but Python's own
`json` module (and so `requests`) writes them as `NaN` and `Infinity`, and the server reads them.
Those cases go through Gradio's REST API (`/gradio_api/call/<endpoint>`) with Python's `json`:
`call_with_raw_json` reads the server's error event and raises `AppError` with its message, as
gradio_client does. The string "nan" goes through gradio_client like any other value.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from training.faces import cartoon_face
from training.mnist import draw_digit

NAN = float("nan")
INF = float("inf")
CUSTOM_WEIGHTS = "Custom weights (below)"
MAX_PROMPT_CHARACTERS = 20_000  # tabs.text.MAX_PROMPT_CHARACTERS: longer prompts keep their end
EXIF_ORIENTATION = 0x0112


# --- talking to the app ---------------------------------------------------------------------


def assert_server_answers(client: Client) -> None:
    status = client.predict(api_name="/model_status")
    assert isinstance(status, str) and "faces-vae" in status


def expect_clear_message(client: Client, call: Callable[[], Any], phrase: str) -> None:
    """`call` must fail with an AppError whose message holds `phrase`; the server must answer afterwards."""
    try:
        result = call()
    except AppError as error:
        message = str(error)
    else:
        message = None
    assert_server_answers(client)
    assert message is not None, f"expected a message saying {phrase!r}, got a result: {result!r}"
    assert phrase in message, message
    assert "Traceback" not in message


def expect_valid_output(client: Client, call: Callable[[], Any], check: Callable[[Any], None]) -> None:
    """`call` must succeed and its result pass `check`; the server must answer afterwards."""
    try:
        result, message = call(), None
    except AppError as error:
        result, message = None, str(error)
    assert_server_answers(client)
    assert message is None, f"expected a valid output, got the message: {message}"
    check(result)


def api_url(client: Client, route: str) -> str:
    return f"{client.src.rstrip('/')}/{client.api_prefix.strip('/')}/{route.lstrip('/')}"


def upload_for_raw_json(client: Client, path: Path) -> dict:
    """Upload a file as the page does; returns the file reference an endpoint takes."""
    with open(path, "rb") as file:
        response = httpx.post(api_url(client, "upload"), files={"files": (path.name, file)}, timeout=60)
    response.raise_for_status()
    return {"path": response.json()[0], "meta": {"_type": "gradio.FileData"}}


def call_with_raw_json(client: Client, api_name: str, *data: Any) -> Any:
    """Call an endpoint through Gradio's REST API with Python's json, which writes NaN and Infinity.

    Returns the endpoint's output; raises AppError with the server's message when it answers with an error.
    """
    url = api_url(client, f"call/{api_name.lstrip('/')}")
    body = json.dumps({"data": list(data)})  # allow_nan=True, the default: NaN, Infinity, -Infinity
    posted = httpx.post(url, content=body, headers={"Content-Type": "application/json"}, timeout=60)
    posted.raise_for_status()
    events = httpx.get(f"{url}/{posted.json()['event_id']}", timeout=300).text
    for block in events.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if fields.get("event") == "error":
            payload = json.loads(fields.get("data") or "null")
            raise AppError(payload.get("error") if isinstance(payload, dict) else str(payload))
        if fields.get("event") == "complete":
            return json.loads(fields["data"])
    raise AssertionError(f"no result and no error in the server's answer: {events[:500]!r}")


def open_image(path: str) -> Image.Image:
    image = Image.open(path)
    image.load()
    return image


def gallery_images(gallery: list) -> list[Image.Image]:
    return [open_image(item["image"]) for item in gallery]


# --- odd files --------------------------------------------------------------------------------
# Each maker writes one file into a folder and returns its path.


def encoded(image: Image.Image, format: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def noise(size: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8))


def portrait(size: int = 128) -> Image.Image:
    return cartoon_face(size, {"Blond_Hair": 0, "Eyeglasses": 0}, np.random.default_rng(0))


def empty_file(folder: Path) -> Path:
    path = folder / "empty.png"
    path.write_bytes(b"")
    return path


def truncated_png(folder: Path) -> Path:
    path, data = folder / "truncated.png", encoded(noise(64), "PNG")
    path.write_bytes(data[: len(data) // 2])
    return path


def truncated_jpeg(folder: Path) -> Path:
    path, data = folder / "truncated.jpg", encoded(noise(256), "JPEG")
    path.write_bytes(data[: len(data) // 2])
    return path


def text_named_png(folder: Path) -> Path:
    path = folder / "notes.png"
    path.write_text("These are my notes, not a picture.\n")
    return path


def svg_drawing(folder: Path) -> Path:
    path = folder / "drawing.svg"
    path.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle r="20"/></svg>')
    return path


def huge_1bit_png(folder: Path) -> Path:
    """10000×10000 pixels (100 megapixels, the app takes 40) in a file of about 12 kB."""
    path = folder / "huge.png"
    Image.new("1", (10_000, 10_000), 0).save(path)
    return path


def one_pixel_png(folder: Path) -> Path:
    path = folder / "pixel.png"
    Image.new("RGB", (1, 1), (0, 0, 0)).save(path)
    return path


def blank_white_png(folder: Path) -> Path:
    """What the page's empty canvas amounts to, through the API: white paper, no ink."""
    path = folder / "blank.png"
    Image.new("L", (280, 280), 255).save(path)
    return path


def blank_transparent_png(folder: Path) -> Path:
    """An empty sketchpad layer: fully transparent RGBA."""
    path = folder / "transparent.png"
    Image.new("RGBA", (280, 280), (0, 0, 0, 0)).save(path)
    return path


def png_with_oversized_metadata(folder: Path) -> Path:
    """A valid PNG with a compressed text chunk that inflates to 5 MB, past Pillow's 1 MB limit for metadata."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = encoded(portrait(), "PNG")
    header_end = 8 + 25  # signature, then the IHDR chunk
    comment = chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b" " * 5_000_000, 9))
    path = folder / "metadata.png"
    path.write_bytes(png[:header_end] + comment + png[header_end:])
    return path


def sixteen_bit_digit(folder: Path) -> Path:
    path = folder / "digit16.png"
    Image.fromarray(np.asarray(draw_digit("one"), dtype=np.uint16) * 257).save(path)  # mode I;16
    return path


def palette_digit(folder: Path) -> Path:
    path = folder / "digit_palette.png"
    draw_digit("one").convert("P").save(path)
    return path


def exif_rotated_digit(folder: Path) -> Path:
    """A "one" stored lying on its side, with EXIF orientation 6 (rotate 90° to show): upright when shown."""
    path = folder / "rotated.jpg"
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    draw_digit("one").rotate(90).save(path, exif=exif.tobytes(), quality=95)
    return path


def animated_digit_gif(folder: Path) -> Path:
    """A "one", then a blank frame: the first frame is the picture."""
    path = folder / "animated.gif"
    frames = [draw_digit("one"), Image.new("L", (200, 200), 255)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=200, loop=0)
    return path


def animated_face_gif(folder: Path) -> Path:
    path = folder / "animated_face.gif"
    frames = [portrait(), Image.new("RGB", (128, 128), "white")]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=200, loop=0)
    return path


def cmyk_face_jpeg(folder: Path) -> Path:
    path = folder / "face_cmyk.jpg"
    portrait().convert("CMYK").save(path, quality=95)
    return path


def grayscale_face(folder: Path) -> Path:
    path = folder / "face_gray.png"
    portrait().convert("L").save(path)
    return path


def rgba_face(folder: Path) -> Path:
    """A face on a transparent background, as cut-out portraits come."""
    path = folder / "face_rgba.png"
    face = portrait().convert("RGBA")
    alpha = Image.new("L", face.size, 0)
    alpha.paste(255, (16, 8, 112, 128))
    face.putalpha(alpha)
    face.save(path)
    return path


def jpeg_named_png_face(folder: Path) -> Path:
    path = folder / "face_really_a_jpeg.png"
    path.write_bytes(encoded(portrait(), "JPEG"))
    return path


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # the 100-megapixel file, on purpose
def test_the_odd_files_are_what_they_claim(tmp_path):
    huge = huge_1bit_png(tmp_path)
    assert Image.open(huge).size == (10_000, 10_000) and huge.stat().st_size < 100_000
    assert Image.open(sixteen_bit_digit(tmp_path)).mode == "I;16"
    assert Image.open(palette_digit(tmp_path)).mode == "P"
    assert Image.open(cmyk_face_jpeg(tmp_path)).mode == "CMYK"
    assert Image.open(exif_rotated_digit(tmp_path)).getexif()[EXIF_ORIENTATION] == 6
    assert Image.open(animated_digit_gif(tmp_path)).n_frames == 2
    assert Image.open(jpeg_named_png_face(tmp_path)).format == "JPEG"
    with pytest.raises(ValueError, match="MAX_TEXT_CHUNK"):  # Pillow refuses it on opening
        Image.open(png_with_oversized_metadata(tmp_path))


# --- good inputs that go with a bad one ------------------------------------------------------


@dataclass(frozen=True)
class GoodInputs:
    digit: Path  # draw_digit("one"), as a plain 8-bit PNG
    face: Path


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> GoodInputs:
    folder = tmp_path_factory.mktemp("good-inputs")
    digit, face = folder / "digit.png", folder / "face.png"
    draw_digit("one").save(digit)
    portrait().save(face)
    return GoodInputs(digit=digit, face=face)


# --- the endpoints that take images, each with one image to vary ------------------------------

ImageEndpoint = Callable[[Client, Path, GoodInputs], Any]


def reconstruct_digit(client: Client, image: Path, good: GoodInputs) -> Any:
    return client.predict(handle_file(str(image)), api_name="/reconstruct_digit")


def interpolate_digits(client: Client, image: Path, good: GoodInputs) -> Any:
    return client.predict(handle_file(str(image)), handle_file(str(good.digit)), 4, api_name="/interpolate_digits")


def edit_glasses(client: Client, image: Path, good: GoodInputs) -> Any:
    return client.predict(handle_file(str(image)), 1.0, api_name="/edit_glasses")


def interpolate_vae(client: Client, image: Path, good: GoodInputs) -> Any:
    return client.predict(handle_file(str(image)), handle_file(str(good.face)), 4, api_name="/interpolate_vae")


def glasses_stand_in(client: Client, image: Path, good: GoodInputs) -> Any:
    """The image stands in for the men with glasses, with weight 1."""
    return client.predict(
        CUSTOM_WEIGHTS, 1, 0, 0, 0, handle_file(str(image)), None, None, None, api_name="/glasses_arithmetic"
    )


def beta_vae(client: Client, image: Path, good: GoodInputs) -> Any:
    return client.predict(handle_file(str(image)), "4", api_name="/beta_vae")


def compare_betas(client: Client, image: Path, good: GoodInputs) -> Any:
    return client.predict(handle_file(str(image)), 0, api_name="/compare_betas")


def translate_hair(client: Client, image: Path, good: GoodInputs) -> Any:
    return client.predict(handle_file(str(image)), "Automatic", api_name="/translate_hair")


UNREADABLE = "This file is not an image that can be read"
EMPTY_DRAWING = "The drawing is empty"


@pytest.mark.parametrize(
    "make_file, endpoint, phrase",
    [
        pytest.param(empty_file, reconstruct_digit, "The uploaded file is empty (0 bytes)", id="empty-file-digit"),
        pytest.param(empty_file, glasses_stand_in, "The uploaded file is empty (0 bytes)", id="empty-file-stand-in"),
        pytest.param(truncated_png, interpolate_vae, "The image file is truncated or corrupt", id="truncated-png-vae"),
        pytest.param(truncated_png, reconstruct_digit, "truncated or corrupt", id="truncated-png-digit"),
        pytest.param(
            truncated_jpeg, translate_hair, "The image file is truncated or corrupt", id="truncated-jpeg-hair"
        ),
        pytest.param(truncated_jpeg, interpolate_digits, "truncated or corrupt", id="truncated-jpeg-digits"),
        pytest.param(text_named_png, glasses_stand_in, UNREADABLE, id="text-as-png-stand-in"),
        pytest.param(text_named_png, reconstruct_digit, UNREADABLE, id="text-as-png-digit"),
        pytest.param(svg_drawing, edit_glasses, UNREADABLE, id="svg-glasses"),
        pytest.param(huge_1bit_png, edit_glasses, "too large to process (at most 40 megapixels)", id="10000px-glasses"),
        pytest.param(huge_1bit_png, interpolate_digits, "at most 40 megapixels", id="10000px-digits"),
        pytest.param(one_pixel_png, translate_hair, "The image is 1×1 pixels: too small to show a face", id="1px-hair"),
        pytest.param(one_pixel_png, interpolate_vae, "too small to show a face", id="1px-vae"),
        pytest.param(one_pixel_png, reconstruct_digit, EMPTY_DRAWING, id="1px-digit"),
        pytest.param(blank_white_png, reconstruct_digit, EMPTY_DRAWING, id="empty-sketch-white-digit"),
        pytest.param(blank_white_png, beta_vae, EMPTY_DRAWING, id="empty-sketch-white-beta-vae"),
        pytest.param(text_named_png, compare_betas, UNREADABLE, id="text-as-png-compare-betas"),
        pytest.param(blank_transparent_png, interpolate_digits, EMPTY_DRAWING, id="empty-sketch-transparent-digits"),
        pytest.param(
            png_with_oversized_metadata,
            interpolate_vae,
            "could not be read",
            id="oversized-png-metadata-vae",
        ),
    ],
)
def test_unusable_image_gets_a_clear_message(
    tiny_client, tmp_path, good, make_file: Callable[[Path], Path], endpoint: ImageEndpoint, phrase: str
):
    image = make_file(tmp_path)
    expect_clear_message(tiny_client, lambda: endpoint(tiny_client, image, good), phrase)


def test_missing_image_gets_a_clear_message(tiny_client):
    call = lambda: tiny_client.predict(None, 1.0, api_name="/edit_glasses")  # noqa: E731
    expect_clear_message(tiny_client, call, "No image was given")
    call = lambda: tiny_client.predict(None, "4", api_name="/beta_vae")  # noqa: E731
    expect_clear_message(tiny_client, call, "No image was given for “Digit for the β-VAEs”")


# --- unusual images that are fine -------------------------------------------------------------


def upright_ink(prepared: str) -> bool:
    """Whether the ink of a prepared 28×28 digit (shown 8×, light on dark) is taller than wide."""
    left, top, right, bottom = open_image(prepared).convert("L").point(lambda value: 255 * (value > 64)).getbbox()
    return bottom - top > 2 * (right - left)


def same_pixels(first: str, second: str) -> bool:
    return np.array_equal(np.asarray(open_image(first)), np.asarray(open_image(second)))


def check_reconstruction(client: Client, good: GoodInputs, result: tuple, same_as_plain_digit: bool) -> None:
    prepared, autoencoder, vae, errors = result
    assert all(open_image(path).size == (224, 224) for path in (prepared, autoencoder, vae))
    assert "autoencoder" in errors and "VAE" in errors
    assert upright_ink(prepared)
    if same_as_plain_digit:
        plain = client.predict(handle_file(str(good.digit)), api_name="/reconstruct_digit")
        assert same_pixels(prepared, plain[0])


def check_digit_strip(client: Client, good: GoodInputs, result: list) -> None:
    """The strip from the odd file to the plain digit is the strip from the plain digit to itself."""
    strip = gallery_images(result)
    assert len(strip) == 4 and all(image.size == (112, 112) for image in strip)
    plain = client.predict(
        handle_file(str(good.digit)), handle_file(str(good.digit)), 4, api_name="/interpolate_digits"
    )
    assert same_pixels(result[0]["image"], plain[0]["image"])


def check_glasses_edit(client: Client, good: GoodInputs, result: tuple) -> None:
    before, after = (open_image(path) for path in result)
    assert before.size == after.size == (64, 64) and before.mode == after.mode == "RGB"


def check_face_strip(client: Client, good: GoodInputs, result: list) -> None:
    strip = gallery_images(result)
    assert len(strip) == 4 and all(image.size == (64, 64) for image in strip)


def check_stand_in(client: Client, good: GoodInputs, result: tuple) -> None:
    image, inputs = result
    assert open_image(image).size == (64, 64)
    assert [item["caption"] for item in inputs] == ["+1 × Men with glasses"]


def check_hair(client: Client, good: GoodInputs, result: tuple) -> None:
    *images, note = result
    assert [open_image(path).size for path in images] == [(256, 256)] * 3
    assert isinstance(note, str) and "→" in note


@pytest.mark.parametrize(
    "make_file, endpoint, check",
    [
        pytest.param(
            sixteen_bit_digit,
            reconstruct_digit,
            lambda client, good, result: check_reconstruction(client, good, result, same_as_plain_digit=True),
            id="16bit-gray-digit",
        ),
        pytest.param(
            exif_rotated_digit,
            reconstruct_digit,
            lambda client, good, result: check_reconstruction(client, good, result, same_as_plain_digit=False),
            id="exif-rotated-jpeg-digit",
        ),
        pytest.param(palette_digit, interpolate_digits, check_digit_strip, id="palette-png-digits"),
        pytest.param(animated_digit_gif, interpolate_digits, check_digit_strip, id="animated-gif-digits"),
        pytest.param(animated_face_gif, translate_hair, check_hair, id="animated-gif-hair"),
        pytest.param(cmyk_face_jpeg, edit_glasses, check_glasses_edit, id="cmyk-jpeg-glasses"),
        pytest.param(grayscale_face, edit_glasses, check_glasses_edit, id="grayscale-face-glasses"),
        pytest.param(grayscale_face, glasses_stand_in, check_stand_in, id="grayscale-face-stand-in"),
        pytest.param(rgba_face, translate_hair, check_hair, id="rgba-face-hair"),
        pytest.param(rgba_face, interpolate_vae, check_face_strip, id="rgba-face-vae"),
        pytest.param(jpeg_named_png_face, interpolate_vae, check_face_strip, id="jpeg-named-png-vae"),
    ],
)
def test_unusual_image_works(
    tiny_client, tmp_path, good, make_file: Callable[[Path], Path], endpoint: ImageEndpoint, check: Callable
):
    image = make_file(tmp_path)
    expect_valid_output(
        tiny_client, lambda: endpoint(tiny_client, image, good), lambda result: check(tiny_client, good, result)
    )


def test_upload_over_the_size_limit_is_refused(tiny_client, tmp_path):
    """Over the app's 10 MB limit: gradio_client refuses to send it, and the server refuses to take it."""
    big = tmp_path / "big.png"
    big.write_bytes(encoded(noise(64), "PNG") + bytes(11_000_000))
    with pytest.raises(ValueError, match="exceeds the maximum file size"):
        tiny_client.predict(handle_file(str(big)), api_name="/reconstruct_digit")
    with open(big, "rb") as file:
        response = httpx.post(api_url(tiny_client, "upload"), files={"files": (big.name, file)}, timeout=60)
    assert response.status_code == 413 and "maximum allowed size" in response.text
    assert_server_answers(tiny_client)


# --- numbers: counts, seeds, steps, strengths, noise scale, text settings ---------------------

EndpointCall = Callable[[Client, GoodInputs], Any]


def raw_edit_glasses(client: Client, good: GoodInputs, strength: Any) -> Any:
    return call_with_raw_json(client, "/edit_glasses", upload_for_raw_json(client, good.face), strength)


def complete(client: Client, prompt: Any, **settings: Any) -> Any:
    values = dict(max_new_tokens=8, temperature=0.8, top_k=50, top_p=0.95, repetition_penalty=1.1, seed=1, model=None)
    values.update(settings)
    return client.predict(prompt, *values.values(), api_name="/complete_text")


def interpolate_digits_steps(client: Client, good: GoodInputs, steps: Any) -> Any:
    digit = handle_file(str(good.digit))
    return client.predict(digit, digit, steps, api_name="/interpolate_digits")


def interpolate_vae_steps(client: Client, good: GoodInputs, steps: Any) -> Any:
    face = handle_file(str(good.face))
    return client.predict(face, face, steps, api_name="/interpolate_vae")


def raw(api_name: str, *data: Any) -> EndpointCall:
    return lambda client, good: call_with_raw_json(client, api_name, *data)


def predict(api_name: str, *data: Any) -> EndpointCall:
    return lambda client, good: client.predict(*data, api_name=api_name)


ABOVE_64 = "is greater than maximum value 64"
ABOVE_MAX_SEED = "is greater than maximum value 2147483647"
BELOW_ZERO = "is less than minimum value 0"


@pytest.mark.parametrize(
    "call, phrase",
    [
        # counts
        pytest.param(raw("/sample_digits", NAN, 0), "Count must be a number, got NaN", id="count-nan-digits"),
        pytest.param(
            predict("/sample_digits", "nan", 0), "Count must be a number, got NaN", id="count-nan-string-digits"
        ),
        pytest.param(raw("/generate_faces", INF, 0, 1.0, "DCGAN"), "Value inf " + ABOVE_64, id="count-inf-faces"),
        pytest.param(raw("/sample_vae_faces", -INF, 0), "less than minimum value 1", id="count-minus-inf-vae"),
        pytest.param(predict("/sample_vae_faces", -5, 0), "Value -5 is less than minimum value 1", id="count-neg-vae"),
        pytest.param(predict("/sample_digits", 1e308, 0), ABOVE_64, id="count-huge-digits"),
        # seeds
        pytest.param(
            raw("/sample_digits", 4, NAN),
            "must be a number, got NaN",
            id="seed-nan-digits",
        ),
        pytest.param(
            raw("/complete_text", "The fox", 8, 0.8, 50, 0.95, 1.1, NAN, None),
            "must be a number, got NaN",
            id="seed-nan-text",
        ),
        pytest.param(
            predict("/generate_faces", 2, "nan", 1.0, "DCGAN"), "Seed must be a number, got NaN", id="seed-nan-str"
        ),
        pytest.param(raw("/sample_vae_faces", 2, INF), "Value inf " + ABOVE_MAX_SEED, id="seed-inf-vae"),
        pytest.param(raw("/sample_digits", 4, -INF), "Value -inf " + BELOW_ZERO, id="seed-minus-inf-digits"),
        pytest.param(lambda client, good: complete(client, "The fox", seed=-1), BELOW_ZERO, id="seed-negative-text"),
        pytest.param(predict("/interpolate_faces", 0, 10**30, 3, 1.0), ABOVE_MAX_SEED, id="seed-huge-walk"),
        pytest.param(predict("/conditional_faces", 1000, 0, "with glasses"), ABOVE_64, id="count-huge-conditional"),
        pytest.param(raw("/slide_glasses", 0, NAN), "Glasses must be a number, got NaN", id="glasses-nan-slide"),
        pytest.param(
            predict("/slide_glasses", 0, 1.5),
            "Glasses: Value 1.5 is greater than maximum value 1",
            id="glasses-above-one",
        ),
        pytest.param(
            lambda client, good: client.predict(handle_file(str(good.digit)), -1, api_name="/compare_betas"),
            "Seed: Value -1 " + BELOW_ZERO,
            id="seed-negative-compare-betas",
        ),
        # steps
        pytest.param(raw("/interpolate_faces", 0, 1, NAN, 1.0), "Steps must be a number, got NaN", id="steps-nan-walk"),
        pytest.param(raw("/interpolate_faces", 0, 1, INF, 1.0), "greater than maximum value 32", id="steps-inf-walk"),
        pytest.param(
            lambda client, good: interpolate_vae_steps(client, good, -3),
            "Value -3 is less than minimum value 2",
            id="steps-negative-vae",
        ),
        pytest.param(
            lambda client, good: interpolate_digits_steps(client, good, 1e9),
            "is greater than maximum value 16",
            id="steps-huge-digits",
        ),
        # strengths and weights
        pytest.param(
            lambda client, good: raw_edit_glasses(client, good, NAN),
            "Strength must be a number, got NaN",
            id="strength-nan-glasses",
        ),
        pytest.param(
            lambda client, good: raw_edit_glasses(client, good, INF),
            "Value inf is greater than maximum value 3",
            id="strength-inf-glasses",
        ),
        pytest.param(
            lambda client, good: client.predict(handle_file(str(good.face)), -1e9, api_name="/edit_glasses"),
            "is less than minimum value -3",
            id="strength-huge-negative-glasses",
        ),
        pytest.param(
            raw("/glasses_arithmetic", CUSTOM_WEIGHTS, NAN, 0, 0, 0, None, None, None, None),
            "Men with glasses must be a number, got NaN",
            id="weight-nan-arithmetic",
        ),
        pytest.param(
            predict("/glasses_arithmetic", CUSTOM_WEIGHTS, 0, 0, 0, 1e6, None, None, None, None),
            "is greater than maximum value 2",
            id="weight-huge-arithmetic",
        ),
        # noise scale
        pytest.param(
            raw("/generate_faces", 2, 0, NAN, "DCGAN"), "Noise scale must be a number, got NaN", id="noise-nan-faces"
        ),
        pytest.param(
            raw("/interpolate_faces", 0, 1, 3, -INF), "less than minimum value 0.6", id="noise-minus-inf-walk"
        ),
        pytest.param(
            predict("/generate_faces", 2, 0, -1.0, "DCGAN"), "less than minimum value 0.6", id="noise-negative-faces"
        ),
        pytest.param(predict("/generate_faces", 2, 0, 1e6, "DCGAN"), "greater than maximum value 1.5", id="noise-huge"),
        # text settings
        pytest.param(
            raw("/complete_text", "The fox", 8, NAN, 50, 0.95, 1.1, 1, None),
            "Temperature must be a number, got NaN",
            id="temperature-nan-text",
        ),
        pytest.param(
            lambda client, good: complete(client, "The fox", max_new_tokens=100_000),
            "greater than maximum value 512",
            id="max-tokens-huge-text",
        ),
        pytest.param(
            lambda client, good: complete(client, "The fox", top_k=-1),
            BELOW_ZERO,
            id="top-k-negative-text",
        ),
    ],
)
def test_bad_number_gets_a_clear_message(tiny_client, good, call: EndpointCall, phrase: str):
    expect_clear_message(tiny_client, lambda: call(tiny_client, good), phrase)


# --- prompts ----------------------------------------------------------------------------------


def test_100000_character_prompt_is_cut_with_a_notice(tiny_client):
    prompt = "The fox runs. " * 7_143  # 100,002 characters
    text, status = complete(tiny_client, prompt)
    assert_server_answers(tiny_client)
    assert f"The prompt was cut to its last {MAX_PROMPT_CHARACTERS:,} characters" in status
    assert text.startswith(prompt[-MAX_PROMPT_CHARACTERS:]) and len(text) > MAX_PROMPT_CHARACTERS


def test_control_characters_are_dropped_and_emoji_kept(tiny_client):
    text, status = complete(tiny_client, "\x00The fox 🦊\x07 jumps\x1b 🎉")
    assert_server_answers(tiny_client)
    assert text.startswith("The fox 🦊 jumps 🎉")  # the prompt, cleaned, then the continuation
    assert "tokens/s" in status and "seed 1" in status


def test_text_before_100000_control_characters_is_kept(tiny_client):
    text, status = complete(tiny_client, "The fox" + "\x07" * 100_000)
    assert_server_answers(tiny_client)
    assert text.startswith("The fox") and "cut" not in status  # the controls go first, so nothing is cut


@pytest.mark.parametrize(
    "prompt",
    [
        pytest.param("", id="empty-prompt"),
        pytest.param("\x00\x01\x07\x1b\x7f\x85\x9f", id="control-characters-only"),
        pytest.param(" \n\t ", id="white-space-only"),
    ],
)
def test_prompt_with_nothing_to_continue_gets_a_clear_message(tiny_client, prompt):
    expect_clear_message(tiny_client, lambda: complete(tiny_client, prompt), "The prompt is empty")


# --- names: presets, directions, models --------------------------------------------------------

NOT_A_CHOICE = "is not in the list of choices"


@pytest.mark.parametrize(
    "call, phrase",
    [
        pytest.param(
            predict("/glasses_arithmetic", "man with a hat", 1, 0, 0, 0, None, None, None, None),
            NOT_A_CHOICE,
            id="unknown-preset",
        ),
        pytest.param(
            predict("/glasses_arithmetic", None, 1, 0, 0, 0, None, None, None, None),
            "Unknown preset None: it is not in the list of choices",
            id="missing-preset",
        ),
        pytest.param(
            lambda client, good: client.predict(handle_file(str(good.face)), "Red → green", api_name="/translate_hair"),
            NOT_A_CHOICE,
            id="unknown-hair-direction",
        ),
        pytest.param(
            lambda client, good: client.predict(handle_file(str(good.face)), None, api_name="/translate_hair"),
            "Unknown direction None: it is not in the list of choices",
            id="missing-hair-direction",
        ),
        pytest.param(predict("/generate_faces", 2, 0, 1.0, "StyleGAN"), NOT_A_CHOICE, id="unknown-face-model"),
        pytest.param(
            predict("/conditional_faces", 2, 0, "with sunglasses"),
            "Unknown glasses 'with sunglasses': it is not in the list of choices: without glasses, with glasses.",
            id="unknown-glasses-label",
        ),
        pytest.param(
            lambda client, good: client.predict(handle_file(str(good.digit)), "2", api_name="/beta_vae"),
            "Unknown β '2': it is not in the list of choices: 0.5, 1, 4.",
            id="unknown-beta",
        ),
        pytest.param(
            lambda client, good: client.predict(handle_file(str(good.digit)), None, api_name="/beta_vae"),
            "Unknown β None",
            id="missing-beta",
        ),
        pytest.param(
            lambda client, good: complete(client, "The fox", model="GPT-5 (imaginary)"),
            NOT_A_CHOICE,
            id="unknown-text-model",
        ),
    ],
)
def test_unknown_name_gets_a_clear_message(tiny_client, good, call: EndpointCall, phrase: str):
    expect_clear_message(tiny_client, lambda: call(tiny_client, good), phrase)
