"""The weights shipped in weights/: each folder loads strictly, has its card, fits the size limit,
and its model does what its tab promises. A family whose weights are not shipped yet is skipped."""

import json
import math
from pathlib import Path

import pytest
import torch

from models import conditional_gan, cyclegan, dcgan, digits, face_vae, text
from models.loading import ModelLoader, ModelSpec
from models.registry import BETA_VAES, MODELS
from models.registry import WEIGHTS as SHIPPED_WEIGHTS
from training import train_cyclegan
from training.faces import DEFAULT_FACES_DIR, FaceDataset
from training.mnist import DEFAULT_MNIST_DIR, draw_digit, load_mnist

WEIGHTS = Path(SHIPPED_WEIGHTS)
MAX_FILE_BYTES = 25 * 2**20
SHIPPED = [name for name in MODELS if (WEIGHTS / name / "config.json").exists()]


def shipped(name: str):
    if name not in SHIPPED:
        pytest.skip(f"weights/{name} is not shipped yet")
    _, load_fn = MODELS[name]
    loaded = ModelLoader(offline=True).load(ModelSpec(name, "unused/repo", WEIGHTS / name), load_fn)
    assert loaded.available, loaded.message
    return loaded.model


def test_the_digits_models_are_shipped():
    assert {"digits-ae", "digits-vae"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_folder_loads_strictly_and_has_its_card(name):
    shipped(name)
    folder = WEIGHTS / name
    card = (folder / "README.md").read_text()
    assert "## Training" in card and "## Results" in card and "wall time" in card
    assert json.loads((folder / "training_metrics.json").read_text())
    for path in folder.rglob("*"):
        assert path.suffix not in (".bin", ".pt", ".pth", ".pkl"), f"{path}: pickled weights are not shipped"
        assert path.stat().st_size <= MAX_FILE_BYTES, f"{path} is over 25 MiB"


def test_digits_reconstruct_what_they_are_shown():
    for name in ("digits-ae", "digits-vae"):
        model = shipped(name)
        one, zero = digits.preprocess_digit(draw_digit("one")), digits.preprocess_digit(draw_digit("zero"))
        reconstruction = digits.reconstruct(model, torch.stack([one, zero]))
        assert digits.mean_squared_error(reconstruction[0], one) < 0.03
        assert digits.mean_squared_error(reconstruction[1], zero) < 0.03
        assert digits.mean_squared_error(reconstruction[1], one) > 3 * digits.mean_squared_error(
            reconstruction[1], zero
        )


def test_beta_vaes_trade_code_size_for_reconstruction_as_beta_grows():
    """On 1,000 MNIST test digits: the larger β, the less the code holds (KL) and the larger the error."""
    models = {beta: shipped(name) for beta, name in BETA_VAES.items()}
    assert all(model.beta == beta for beta, model in models.items())
    if not (DEFAULT_MNIST_DIR / "MNIST").exists():
        pytest.skip(f"no MNIST in {DEFAULT_MNIST_DIR}")
    test_images = load_mnist(DEFAULT_MNIST_DIR)[1].tensors[0][:1000]
    kls = [float(digits.digit_kl(model, test_images).mean()) for model in models.values()]
    errors = [
        digits.mean_squared_error(digits.reconstruct(model, test_images), test_images) for model in models.values()
    ]
    assert kls == sorted(kls, reverse=True) and kls[0] > 1.5 * kls[-1]
    assert errors == sorted(errors) and errors[-1] > 1.5 * errors[0]


def eye_band_brightness(faces: torch.Tensor) -> torch.Tensor:
    """Mean brightness of the band across the eyes (rows 28-40 of 64 in CelebA's framing), per face."""
    size = faces.shape[-1]
    return faces[:, :, int(size * 28 / 64) : int(size * 40 / 64), int(size * 16 / 64) : int(size * 48 / 64)].mean(
        dim=(1, 2, 3)
    )


def test_glasses_direction_puts_dark_frames_round_the_eyes():
    bundle = shipped("faces-vae")
    without = torch.stack([bundle.vectors["men_without_glasses"], bundle.vectors["women_without_glasses"]])
    plain = face_vae.decode_latents(bundle.model, without)
    with_glasses = face_vae.decode_latents(bundle.model, without + 1.5 * bundle.vectors["glasses_direction"])
    assert (eye_band_brightness(with_glasses) < eye_band_brightness(plain) - 0.02).all()
    book_preset = face_vae.arithmetic(bundle.model, bundle.vectors, next(iter(face_vae.PRESETS.values())))
    woman_without = face_vae.decode_latents(bundle.model, bundle.vectors["women_without_glasses"][None])
    assert eye_band_brightness(book_preset) < eye_band_brightness(woman_without) - 0.02


def test_dcgan_faces_are_varied():
    generator = shipped("faces-dcgan")
    faces = dcgan.generate(generator, 64, seed=0)
    assert faces.shape[0] == 64
    distances = torch.cdist(faces.flatten(1), faces.flatten(1)) / faces[0].numel() ** 0.5  # RMS difference
    distances.fill_diagonal_(float("inf"))
    assert distances.min() > 0.02  # no two faces (nearly) the same: no mode collapse
    assert faces.std(dim=0).mean() > 0.1  # pixels vary across faces


def test_cyclegan_recolours_held_out_hair_both_ways_and_comes_back():
    generators = shipped("hair-cyclegan")
    if not DEFAULT_FACES_DIR.exists():
        pytest.skip(f"no faces at {DEFAULT_FACES_DIR} (set SUITE_DATA_DIR)")
    black, blond = (
        FaceDataset(DEFAULT_FACES_DIR, generators.image_size, "val", keep=keep, limit=64, progress=False).images
        for keep in (train_cyclegan.is_black, train_cyclegan.is_blond)
    )
    figures = train_cyclegan.evaluate(generators.black_to_blond, generators.blond_to_black, black, blond, 16)
    assert figures["recoloured_black"] >= 0.8  # black hair read as blond after the translation
    assert figures["recoloured_blond"] >= 0.8
    assert 0.05 < figures["change_l1_black"] and 0.05 < figures["change_l1_blond"]  # not an identity map
    assert figures["cycle_l1"] < 0.12  # the round trip brings the person back
    made_blond = cyclegan.translate(generators, black[:8].float() / 255, "black_to_blond")  # the app's path
    assert cyclegan.hair_looks_blond(made_blond).float().mean() >= 0.75


PASSAGE = (
    "The house stood at the end of the lane, and in the evening the old woman would sit by the window "
    "and watch the road. Her son had gone to the town many years before, and she did not know whether "
    'he would ever come back to her. "I shall wait for him," she said to the doctor, "as long as I live."'
)


def test_small_gpt_models_english_it_never_saw_and_writes_words():
    loaded = shipped("text-gpt2-small")
    ids = loaded.tokenizer(PASSAGE, return_tensors="pt").input_ids
    with torch.no_grad():
        loss = loaded.model(ids, labels=ids).loss.item()  # mean nats over the len - 1 predicted tokens
    bits_per_byte = loss * (ids.shape[1] - 1) / len(PASSAGE.encode()) / math.log(2)
    assert bits_per_byte < 2.0  # a model that knew nothing (uniform over its vocabulary) would be near 3.5
    settings = text.GenerationSettings(max_new_tokens=60, temperature=0.8, top_k=50, seed=0)
    completion = text.complete(loaded, "It was late in the evening when", settings)
    words = completion.text.split()
    assert len(words) >= 20
    assert sum(word.strip(".,;:!?\"'-").isalpha() for word in words) / len(words) > 0.8  # words, not noise
    assert len(set(words)) > len(words) / 2  # not one phrase over and over


# The small GPT-2's issue's target is 1.6 (its card: 1.5994); the line-wrapped model it replaced scored 2.55 on
# this text. For the LSTM: well below the 3.5 of a model that learned nothing.
@pytest.mark.parametrize("name, bound", [("text-gpt2-small", 1.6), ("text-lstm", 2.2)])
def test_text_models_score_on_the_held_out_prose(name, bound):
    """Bits per byte on the prepared text of the held-out book (Kafka, never trained on)."""
    from accelerate import Accelerator

    from training.books import VAL_BOOK, evaluate, transformers_logits, validation_sets
    from training.common import DATA_ROOT
    from training.prepare_text import prepare_book

    loaded = shipped(name)
    book = DATA_ROOT / "text" / VAL_BOOK
    if not book.exists():
        pytest.skip(f"no held-out book at {book}")
    [(ids, size)] = validation_sets(loaded.tokenizer, [prepare_book(book.read_text(encoding="utf-8"))])
    logits_of = (lambda model, inputs: model(inputs)[0]) if name == "text-lstm" else transformers_logits
    _, bits_per_byte = evaluate(loaded.model, ids, size, 256, 16, Accelerator(cpu=True), logits_of)
    assert bits_per_byte <= bound


def test_attribute_classifier_reads_glasses_and_gender_on_held_out_faces():
    # A tool, not an app tab: not in app.MODELS, so loaded and checked here directly.
    from models.attributes import load_attribute_classifier
    from training.train_attributes import evaluate

    folder = WEIGHTS / "face-attributes"
    if not (folder / "config.json").exists():
        pytest.skip("weights/face-attributes is not shipped yet")
    card = (folder / "README.md").read_text()
    assert "## Results" in card and "wall time" in card and "non-commercial" in card
    assert (folder / "model.safetensors").stat().st_size <= 2 * 2**20
    assert not [path for path in folder.rglob("*") if path.suffix in (".bin", ".pt", ".pth", ".pkl")]
    if not DEFAULT_FACES_DIR.exists():
        pytest.skip(f"no faces at {DEFAULT_FACES_DIR} (set SUITE_DATA_DIR)")
    model = load_attribute_classifier(folder)
    figures = evaluate(model, FaceDataset(DEFAULT_FACES_DIR, model.image_size, "val", progress=False))
    assert figures["eyeglasses_recall_clear"] >= 0.9  # clear glasses read as glasses
    assert figures["eyeglasses_specificity"] >= 0.95  # faces without glasses read as without
    assert figures["male_accuracy"] >= 0.9


def test_conditional_gan_draws_glasses_by_label_on_the_same_people():
    """On 256 seeds, judged by the shipped attribute classifier: glasses on ≥ 85 % with the label "with",
    ≤ 10 % with "without"; and between the two, the pixels change round the eyes more than elsewhere."""
    from models.attributes import decide, load_attribute_classifier, predict

    generator = shipped("faces-cgan")
    classifier = load_attribute_classifier(WEIGHTS / "face-attributes")
    with_glasses = conditional_gan.generate(generator, 256, 0, 1.0)
    without = conditional_gan.generate(generator, 256, 0, 0.0)
    read_with = decide(classifier, predict(classifier, with_glasses))
    read_without = decide(classifier, predict(classifier, without))
    assert read_with["eyeglasses"].float().mean() >= 0.85
    assert read_without["eyeglasses"].float().mean() <= 0.10
    change = (with_glasses - without).abs().mean(dim=1)  # (256, 64, 64)
    eyes = change[:, 28:40, 16:48].mean()
    change[:, 28:40, 16:48] = float("nan")
    assert eyes > 2 * change.nanmean()  # the label changes the glasses, not the person
    # A man stays a man: the classifier's sex reading agrees for most seeds read as men without glasses
    men = read_without["male"]
    assert (read_with["male"][men]).float().mean() >= 0.85


def test_face_vae_keeps_adds_and_removes_glasses_on_held_out_faces():
    """The glasses tab's promises on CelebA's validation faces, judged by the shipped attribute classifier
    (which never took part in the VAE's training): `python -m benchmarks.glasses` prints the same figures."""
    from benchmarks.glasses import PAGE_STRENGTH, benchmark
    from models.attributes import load_attribute_classifier

    bundle = shipped("faces-vae")
    if not DEFAULT_FACES_DIR.exists():
        pytest.skip(f"no faces at {DEFAULT_FACES_DIR} (set SUITE_DATA_DIR)")
    classifier = load_attribute_classifier(WEIGHTS / "face-attributes")
    faces = FaceDataset(DEFAULT_FACES_DIR, bundle.model.image_size, "val", progress=False)
    figures = benchmark(bundle, classifier, faces, strengths=(PAGE_STRENGTH,))
    add, remove = f"latent_add_{PAGE_STRENGTH:g}", f"latent_remove_{PAGE_STRENGTH:g}"
    assert figures["reconstruction_keeps_glasses"] >= 0.85
    assert figures[add] >= 0.9 and figures[f"{add}_sex_kept"] >= 0.85
    assert figures[remove] >= 0.85 and figures[f"{remove}_sex_kept"] >= 0.85
    for name, said in figures["presets"].items():
        assert said.get("eyeglasses_as_promised", True), name
    assert figures["mse"] <= 0.0069
