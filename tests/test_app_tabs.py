"""The tabs' endpoints through gradio_client, on tiny models trained by the session.

`tiny_client` (tests/conftest.py) trains a tiny model of every tab once per test session and
serves them with `python app.py --weights-dir`.

This checks the wiring (inputs, outputs, seeds, streaming, bad input), whatever weights are
shipped; the quality of shipped models is checked by their own tests and model cards.
"""

import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

FIRST_PRESET = "man with glasses - man without + woman without = woman with glasses"


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "portrait.png"
    Image.new("RGB", (300, 400), (200, 150, 120)).save(path)
    return str(path)


def images(gallery) -> list[Image.Image]:
    return [Image.open(item["image"]) for item in gallery]


def test_status_reports_the_tiny_models(tiny_client):
    status = tiny_client.predict(api_name="/model_status")
    assert "faces-vae**: shipped weights" in status and "faces-dcgan**: shipped weights" in status
    assert "digits-ae**: shipped weights" in status and "text-gpt2-small**: shipped weights" in status
    assert "text-lstm**: shipped weights" in status
    assert "digits-vae-beta4**: shipped weights" in status and "digits-vae-beta0.5**: shipped weights" in status
    assert "faces-cgan**: shipped weights" in status


def test_beta_vae_reconstructs_and_traverses_the_digit(tiny_client, digit_files):
    digit = handle_file(str(digit_files["one"]))
    reconstruction, traversal = tiny_client.predict(digit, "4", api_name="/beta_vae")
    assert Image.open(reconstruction).size == (224, 224)
    assert len(traversal) == 5 and all(Image.open(row["image"]).size == (9 * 112, 112) for row in traversal)
    assert traversal[0]["caption"].startswith("z") and "swept from -3 to +3" in traversal[0]["caption"]
    kls = [float(row["caption"].split("KL ")[1].split(" nats")[0]) for row in traversal]
    assert kls == sorted(kls, reverse=True)  # the coordinates the code uses most come first
    same = tiny_client.predict(digit, 4, api_name="/beta_vae")  # a number works as well as its text
    assert [row["caption"] for row in same[1]] == [row["caption"] for row in traversal]


def test_compare_betas_shows_every_beta_on_the_same_digit_and_latents(tiny_client, digit_files):
    reconstructions, samples = tiny_client.predict(handle_file(str(digit_files["zero"])), 3, api_name="/compare_betas")
    assert [item["caption"].split(":")[0] for item in reconstructions] == ["β = 0.5", "β = 1", "β = 4"]
    assert all("error" in item["caption"] and "KL" in item["caption"] for item in reconstructions)
    assert [item["caption"] for item in samples] == ["β = 0.5", "β = 1", "β = 4"]
    assert all(Image.open(item["image"]).size == (8 * 112, 112) for item in samples)
    again = tiny_client.predict(handle_file(str(digit_files["zero"])), 3, api_name="/compare_betas")[1]
    assert [list(image.getdata()) for image in images(again)] == [list(image.getdata()) for image in images(samples)]


def test_generate_faces_is_seeded(tiny_client):
    first = images(tiny_client.predict(4, 10, 1.0, "DCGAN", api_name="/generate_faces"))
    assert len(first) == 4 and first[0].size == (64, 64)
    again = images(tiny_client.predict(2, 10, 1.0, "DCGAN", api_name="/generate_faces"))
    for face, same in zip(again, first[:2]):  # a batch of 2 and one of 4 may round a pixel differently
        assert np.abs(np.asarray(face, dtype=int) - np.asarray(same, dtype=int)).max() <= 1
    next_seed = images(tiny_client.predict(4, 11, 1.0, "DCGAN", api_name="/generate_faces"))
    old_faces = [list(face.getdata()) for face in first]
    assert not any(list(face.getdata()) in old_faces for face in next_seed)  # a new seed: new faces
    vae_faces = images(tiny_client.predict(3, 10, 1.0, "VAE", api_name="/generate_faces"))
    assert len(vae_faces) == 3 and list(vae_faces[0].getdata()) != list(first[0].getdata())


def test_conditional_faces_are_the_same_people_with_and_without_glasses(tiny_client):
    with_glasses = images(tiny_client.predict(4, 5, "with glasses", api_name="/conditional_faces"))
    without = images(tiny_client.predict(4, 5, "without glasses", api_name="/conditional_faces"))
    assert len(with_glasses) == len(without) == 4 and with_glasses[0].size == (64, 64)
    assert [list(face.getdata()) for face in with_glasses] != [list(face.getdata()) for face in without]
    again = images(tiny_client.predict(4, 5, "with glasses", api_name="/conditional_faces"))
    assert [list(face.getdata()) for face in again] == [list(face.getdata()) for face in with_glasses]

    face, sweep = tiny_client.predict(5, 1.0, api_name="/slide_glasses")
    sweep = images(sweep)
    assert len(sweep) == 9
    # the slider's face is the seed's first face; the sweep runs from without (0) to with glasses (1)
    assert list(Image.open(face).getdata()) == list(with_glasses[0].getdata()) == list(sweep[-1].getdata())
    assert list(sweep[0].getdata()) == list(without[0].getdata())


def test_interpolate_faces_gives_a_strip_and_a_gif(tiny_client):
    strip, gif = tiny_client.predict(3, 7, 5, 1.0, api_name="/interpolate_faces")
    strip = images(strip)
    assert len(strip) == 5
    ends = images(tiny_client.predict(1, 3, 1.0, "DCGAN", api_name="/generate_faces"))
    assert list(strip[0].getdata()) == list(ends[0].getdata())
    assert Image.open(gif).n_frames == 8  # 5 there, 3 back


def test_glasses_presets_custom_weights_and_stand_ins(tiny_client, photo):
    result, inputs = tiny_client.predict(
        FIRST_PRESET, 0, 0, 0, 0, None, None, None, None, api_name="/glasses_arithmetic"
    )
    assert Image.open(result).size == (64, 64)
    assert [item["caption"] for item in inputs] == [
        "+1 × Men with glasses",
        "-1 × Men without glasses",
        "+1 × Women without glasses",
    ]
    custom, custom_inputs = tiny_client.predict(
        "Custom weights (below)", 0, 0, 0, 1, None, None, None, handle_file(photo), api_name="/glasses_arithmetic"
    )
    stand_in, _ = tiny_client.predict(
        "Custom weights (below)", 0, 0, 0, 1, None, None, None, None, api_name="/glasses_arithmetic"
    )
    assert list(Image.open(custom).getdata()) != list(Image.open(stand_in).getdata())
    with pytest.raises(AppError, match="All weights are zero"):
        tiny_client.predict(
            "Custom weights (below)", 0, 0, 0, 0, None, None, None, None, api_name="/glasses_arithmetic"
        )


def test_edit_interpolate_and_sample(tiny_client, photo):
    before, after = tiny_client.predict(handle_file(photo), 2.5, api_name="/edit_glasses")
    unchanged, same = tiny_client.predict(handle_file(photo), 0, api_name="/edit_glasses")
    assert list(Image.open(unchanged).getdata()) == list(Image.open(same).getdata())  # strength 0: reconstruction
    assert list(Image.open(before).getdata()) != list(Image.open(after).getdata())
    blend = images(tiny_client.predict(handle_file(photo), handle_file(photo), 4, api_name="/interpolate_vae"))
    assert len(blend) == 4
    assert len(images(tiny_client.predict(6, 2, api_name="/sample_vae_faces"))) == 6


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda path: Image.new("RGB", (8, 8)).save(path, format="PNG"), "too small"),
        (lambda path: path.write_bytes(b"GIF89a not really"), "truncated or corrupt|not an image"),
    ],
)
def test_bad_faces_get_clear_messages(tiny_client, tmp_path, make, message):
    path = tmp_path / "face.png"
    make(path)
    with pytest.raises(AppError, match=message):
        tiny_client.predict(handle_file(str(path)), 1.0, api_name="/edit_glasses")
    with pytest.raises(AppError, match="greater than maximum"):
        tiny_client.predict(1000, 0, 1.0, "DCGAN", api_name="/generate_faces")


# --- hair -------------------------------------------------------------------------------------


def test_translate_hair_both_directions_and_automatic(tiny_client, tmp_path):
    import numpy as np

    from training.faces import cartoon_face

    blond = tmp_path / "blond.png"
    cartoon_face(256, {"Blond_Hair": 1, "Eyeglasses": 0}, np.random.default_rng(0)).save(blond)
    seen, translated, back, note = tiny_client.predict(handle_file(str(blond)), "Automatic", api_name="/translate_hair")
    assert "blond → black" in note
    assert all(Image.open(path).size == (256, 256) for path in (seen, translated, back))
    _, _, _, forced = tiny_client.predict(handle_file(str(blond)), "Black → blond", api_name="/translate_hair")
    assert forced == "Black → blond."
    with pytest.raises(AppError, match="not in the list of choices"):
        tiny_client.predict(handle_file(str(blond)), "Purple", api_name="/translate_hair")


# --- text -------------------------------------------------------------------------------------


def complete(client, prompt, seed=1, max_new_tokens=12):
    return client.predict(prompt, max_new_tokens, 0.8, 50, 0.95, 1.1, seed, None, api_name="/complete_text")


def test_complete_text_streams_and_is_seeded(tiny_client):
    job = tiny_client.submit("It was a cold day", 16, 0.8, 50, 0.95, 1.1, 5, None, api_name="/complete_text")
    updates = list(job)
    assert len(updates) >= 3  # partial results arrive before the end
    final_text, status = job.result()
    assert final_text.startswith("It was a cold day") and len(final_text) > len("It was a cold day")
    assert "tokens/s" in status and "seed 5" in status
    assert complete(tiny_client, "It was a cold day", seed=5, max_new_tokens=16)[0] == final_text


def test_complete_text_takes_the_model_by_name(tiny_client):
    # The text models load after the page is up: a caller that names one must not be refused for that.
    text_so_far, status = tiny_client.predict(
        "It was a cold day", 8, 0.8, 50, 0.95, 1.1, 5, "text-gpt2-small", api_name="/complete_text"
    )
    assert text_so_far.startswith("It was a cold day") and "tokens/s" in status
    with pytest.raises(AppError, match="'text-gpt2' is not available; choose one of: text-gpt2-small"):
        tiny_client.predict("It was a cold day", 8, 0.8, 50, 0.95, 1.1, 5, "text-gpt2", api_name="/complete_text")
    with pytest.raises(AppError, match="not in the list of choices"):
        tiny_client.predict("It was a cold day", 8, 0.8, 50, 0.95, 1.1, 5, "gpt-5", api_name="/complete_text")


def test_complete_text_with_the_lstm_streams_and_is_seeded(tiny_client):
    arguments = ("It was a cold day", 16, 0.8, 50, 0.95, 1.1, 5, "text-lstm")
    job = tiny_client.submit(*arguments, api_name="/complete_text")
    updates = list(job)
    assert len(updates) >= 3  # partial results arrive before the end
    final_text, status = job.result()
    assert final_text.startswith("It was a cold day") and len(final_text) > len("It was a cold day")
    assert "tokens/s" in status and "seed 5" in status
    assert tiny_client.predict(*arguments, api_name="/complete_text")[0] == final_text


def test_text_bad_input(tiny_client):
    with pytest.raises(AppError, match="empty"):
        complete(tiny_client, "   ")
    long_text, status = complete(tiny_client, "fox " * 6000)
    assert "cut to its last 20,000 characters" in status and "only its last" in status
    clean, _ = complete(tiny_client, "The fox\x00\x07 jumps 🦊")
    assert "\x00" not in clean and "🦊" in clean
    with pytest.raises(AppError, match="greater than maximum"):
        complete(tiny_client, "The fox", max_new_tokens=100_000)
