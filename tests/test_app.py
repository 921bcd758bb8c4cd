"""Drive the running app through gradio_client, as an API user would."""

import functools
import os
import threading
import types

import numpy as np
import pytest
import torch
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from models.digits import preprocess_digit


def load_digit(path: str, scale: int) -> torch.Tensor:
    """An upscaled output image back to a (1, 28, 28) tensor in 0..1."""
    array = np.asarray(Image.open(path).convert("L"), dtype=np.float32)[::scale, ::scale] / 255
    return torch.from_numpy(array)[None]


def gallery_paths(gallery) -> list[str]:
    return [item["image"] if isinstance(item, dict) else item[0] for item in gallery]


def test_status_says_where_weights_came_from(client):
    status = client.predict(api_name="/model_status")
    assert "digits-ae" in status and "digits-vae" in status
    assert "shipped weights in weights/digits-ae" in status
    assert "offline mode" in status


def test_reconstruct_digit(client, digit_files):
    prepared, ae_path, vae_path, errors = client.predict(
        handle_file(str(digit_files["zero"])), api_name="/reconstruct_digit"
    )
    digit = load_digit(prepared, 8)
    assert torch.allclose(digit, preprocess_digit(str(digit_files["zero"])), atol=1 / 255 + 1e-6)
    other = preprocess_digit(str(digit_files["one"]))
    for path in (ae_path, vae_path):
        assert Image.open(path).size == (224, 224)
        reconstruction = load_digit(path, 8)
        # the reconstruction is much closer to its own input than to another digit
        assert torch.mean((reconstruction - digit) ** 2) < 0.5 * torch.mean((reconstruction - other) ** 2)
    assert "autoencoder" in errors and "VAE" in errors


def test_sample_digits_is_seeded_and_clamped(client):
    first = gallery_paths(client.predict(5, 7, api_name="/sample_digits"))
    again = gallery_paths(client.predict(5, 7, api_name="/sample_digits"))
    other = gallery_paths(client.predict(5, 8, api_name="/sample_digits"))
    assert len(first) == 5
    assert np.array_equal(np.asarray(Image.open(first[0])), np.asarray(Image.open(again[0])))
    assert not np.array_equal(np.asarray(Image.open(first[0])), np.asarray(Image.open(other[0])))
    with pytest.raises(AppError, match="greater than maximum value 64"):
        client.predict(10_000, 0, api_name="/sample_digits")


def test_interpolate_digits(client, digit_files):
    strip = gallery_paths(
        client.predict(
            handle_file(str(digit_files["one"])),
            handle_file(str(digit_files["zero"])),
            6,
            api_name="/interpolate_digits",
        )
    )
    assert len(strip) == 6
    one, zero = preprocess_digit(str(digit_files["one"])), preprocess_digit(str(digit_files["zero"]))
    first, last = load_digit(strip[0], 4), load_digit(strip[-1], 4)
    assert torch.mean((first - one) ** 2) < torch.mean((first - zero) ** 2)
    assert torch.mean((last - zero) ** 2) < torch.mean((last - one) ** 2)


@pytest.mark.parametrize(
    "make_file, message",
    [
        (lambda path: path.write_bytes(b"not an image at all"), "not an image"),
        (lambda path: path.write_bytes(b""), "empty"),
        (lambda path: Image.new("L", (300, 300), 255).save(path, format="PNG"), "empty"),
        (lambda path: Image.new("L", (10000, 10000), 0).save(path, format="PNG"), "too large"),
        (lambda path: Image.new("CMYK", (64, 64), (0, 0, 0, 0)).save(path, format="JPEG"), "empty"),
    ],
    ids=["not-an-image", "zero-bytes", "blank", "10000x10000", "cmyk-blank"],
)
def test_bad_uploads_get_clear_messages_and_server_stays_up(client, tmp_path, make_file, message):
    path = tmp_path / "upload.png"
    make_file(path)
    with pytest.raises(AppError, match=message):
        client.predict(handle_file(str(path)), api_name="/reconstruct_digit")
    assert "digits-ae" in client.predict(api_name="/model_status")


def test_sixteen_bit_upload_works(client, tmp_path):
    from training.mnist import draw_digit

    drawing = np.asarray(draw_digit("zero"), dtype=np.uint16) * 257
    path = tmp_path / "sixteen.png"
    Image.fromarray(drawing).save(path)
    prepared, *_ = client.predict(handle_file(str(path)), api_name="/reconstruct_digit")
    assert load_digit(prepared, 8).max() > 0.9


def test_absurd_numbers_get_clear_messages(client, digit_files):
    with pytest.raises(AppError, match="Steps must be a number, got 'many'"):
        client.predict(
            handle_file(str(digit_files["one"])),
            handle_file(str(digit_files["zero"])),
            "many",
            api_name="/interpolate_digits",
        )


def test_numbers_out_of_range_or_not_numbers_are_refused_with_the_field_named():
    import gradio as gr

    from tabs.common import number, whole_number

    assert whole_number(3.7, "Count", 1, 64) == 3 and number("0.5", "Scale", 0, 1.5) == 0.5
    with pytest.raises(gr.Error, match="Count: Value 1000000000000.0 is greater than maximum value 64"):
        whole_number(1e12, "Count", 1, 64)
    with pytest.raises(gr.Error, match="Scale: Value -inf is less than minimum value 0"):
        number(-float("inf"), "Scale", 0, 1.5)
    for bad in (float("nan"), "many", [], {}, True):
        with pytest.raises(gr.Error, match="Scale must be a number"):
            number(bad, "Scale", 0, 1.5)
    with pytest.raises(gr.Error, match="Seed is empty"):
        whole_number(None, "Seed", 0, 10)


def test_model_card_endpoint(client):
    card = client.predict("digits-vae", api_name="/model_card")
    assert "shipped with the app, `weights/digits-vae`" in card
    assert "## Training" in card and "python -m training.train_digits" in card  # the command that trained it
    assert not card.startswith("---")  # the YAML front matter is not shown
    missing = client.predict("text-gpt2", api_name="/model_card")  # no Hub, no shipped copy
    assert "not loaded" in missing and "disabled" in missing
    with pytest.raises(AppError, match="Unknown model 'nope': it is not in the list of choices"):
        client.predict("nope", api_name="/model_card")


def test_model_handlers_are_wrapped_for_zerogpu_when_spaces_is_installed(monkeypatch):
    import app
    from models.registry import load_models
    from tabs import common

    # here (no `spaces` package): handlers run on the app's two model threads
    assert common.spaces is None and common.model_handler(len)("abc") == 3
    names = {common.model_handler(lambda: threading.current_thread().name)() for _ in range(8)}
    assert names and all(name.startswith("model") for name in names) and len(names) <= 2
    wrapped = []

    def fake_gpu(handler):
        wrapped.append(handler.__name__)
        return functools.wraps(handler)(lambda *args, **kwargs: handler(*args, **kwargs))

    monkeypatch.setattr(common, "spaces", types.SimpleNamespace(GPU=fake_gpu))
    app.build_app(load_models(offline=True, overrides={}))
    model_handlers = {
        "reconstruct_digit",
        "sample_digits",
        "interpolate_digits",
        "generate_faces",
        "interpolate_faces",
        "glasses_arithmetic",
        "edit_glasses",
        "interpolate_vae",
        "sample_vae_faces",
        "translate_hair",
        "complete_text",
    }
    assert model_handlers <= set(wrapped)
    assert "model_card" not in wrapped  # no model runs there


@pytest.mark.parametrize(
    "path",
    [
        "/gradio_api/file=/etc/passwd",
        "/gradio_api/file=app.py",  # the app's own source is not a file the page needs
        "/gradio_api/file=weights/digits-vae/model.safetensors",
        "/gradio_api/file=weights/examples/../../app.py",
        "/gradio_api/file=%2Fetc%2Fpasswd",
        "/file=/etc/passwd",
        "/static/../../../../etc/passwd",
    ],
)
def test_app_serves_no_file_outside_its_own(app_url, path):
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(app_url.rstrip("/") + path, timeout=10)
    assert refused.value.code in (403, 404)


def test_app_serves_its_example_images(app_url):
    import urllib.request

    from models.registry import EXAMPLES

    example = next(EXAMPLES.glob("digit_*.png"))
    with urllib.request.urlopen(f"{app_url}gradio_api/file={example}", timeout=10) as response:
        assert response.status == 200 and response.read() == example.read_bytes()


def test_output_images_are_replaced_atomically_while_being_read(tmp_path, monkeypatch):
    from gradio import processing_utils

    from tabs.common import save_pil_to_cache_atomically, write_output_images_atomically

    monkeypatch.setattr(processing_utils, "save_pil_to_cache", processing_utils.save_pil_to_cache)  # undone after
    write_output_images_atomically()  # what app.main() does before building the page
    assert processing_utils.save_pil_to_cache is save_pil_to_cache_atomically  # what every component calls
    image = Image.new("RGB", (64, 64), (10, 200, 30))
    path = save_pil_to_cache_atomically(image, str(tmp_path), format="png")
    with open(path, "rb") as download:  # a client still reading the first answer...
        again = save_pil_to_cache_atomically(image, str(tmp_path), format="png")  # ...a second one, same image
        assert again == path
        # A new file took the name (in place, the reader would see it truncated mid-download) ...
        assert os.fstat(download.fileno()).st_ino != os.stat(path).st_ino
        assert Image.open(download).getpixel((0, 0)) == (10, 200, 30)  # ... and the reader's file is whole
    assert Image.open(path).getpixel((0, 0)) == (10, 200, 30)
    assert not list(tmp_path.rglob("*.part"))
