"""The face VAE: model, loss, attribute vectors, inference functions and the tiny training run."""

import json
from collections import Counter

import pytest
import torch
from safetensors.torch import save_file

from models.face_vae import (
    ATTRIBUTE_VECTORS_FILE,
    GLASSES_DIRECTION,
    GROUPS,
    PRESETS,
    VECTOR_NAMES,
    FaceVAE,
    arithmetic,
    edit_glasses,
    face_vae_loss,
    glasses_direction,
    interpolate,
    load_face_vae,
    reconstruct,
    sample,
    save_attribute_vectors,
)
from training import train_face_vae
from training.faces import FaceDataset, tiny_synthetic_faces
from training.train_face_vae import face_group, first_of_each_group


@pytest.fixture
def vae():
    torch.manual_seed(0)
    return FaceVAE().eval()


@pytest.fixture
def vectors():
    generator = torch.Generator().manual_seed(0)
    means = {name: torch.randn(100, generator=generator) for name in GROUPS}
    return {**means, GLASSES_DIRECTION: glasses_direction(means)}


def saved_folder(model: FaceVAE, folder, seed: int = 0):
    """A model folder as the training script exports it: weights, config and attribute vectors."""
    model.save_pretrained(folder)
    generator = torch.Generator().manual_seed(seed)
    means = {name: torch.randn(model.latent_dim, generator=generator) for name in GROUPS}
    save_attribute_vectors(folder, means, dict.fromkeys(GROUPS, 7))
    return folder


@pytest.mark.parametrize("size", [64, 128])
def test_shapes(size):
    model = FaceVAE(image_size=size).eval()
    images = torch.rand(3, 3, size, size)
    mu, logvar = model.encode_distribution(images)
    assert mu.shape == logvar.shape == (3, 100)
    assert (logvar <= 0).all()  # the posterior is never wider than the prior
    assert model.decode(torch.randn(5, 100)).shape == (5, 3, size, size)
    reconstruction, mu, logvar = model.train()(images)
    assert reconstruction.shape == images.shape and mu.shape == (3, 100)
    assert 0 <= reconstruction.min() and reconstruction.max() <= 1


def test_width_and_latent_dim_are_configurable():
    model = FaceVAE(image_size=32, latent_dim=16, width=8).eval()
    assert model.encode(torch.rand(2, 3, 32, 32)).shape == (2, 16)
    assert model.decode(torch.randn(2, 16)).shape == (2, 3, 32, 32)


@pytest.mark.parametrize("size", [48, 8, 100])
def test_image_size_must_be_a_power_of_two(size):
    with pytest.raises(ValueError, match="power of two"):
        FaceVAE(image_size=size)


def test_loss():
    images = torch.rand(4, 3, 64, 64)
    zeros = torch.zeros(4, 100)
    loss, squared_error, kl = face_vae_loss(images, images, zeros, zeros)
    assert loss == squared_error == kl == 0  # perfect reconstruction, posterior equal to the prior

    loss, squared_error, kl = face_vae_loss(torch.zeros_like(images), images, torch.ones(4, 100), zeros)
    assert squared_error == pytest.approx(float(images.pow(2).sum() / 4), rel=1e-5)  # summed over pixels, per image
    assert kl == pytest.approx(50.0)  # 0.5 * sum(mu^2) = 0.5 * 100
    assert loss == pytest.approx(float(squared_error + 0.1 * kl))
    loss_beta1, _, _ = face_vae_loss(torch.zeros_like(images), images, torch.ones(4, 100), zeros, kl_weight=1.0)
    assert loss_beta1 == pytest.approx(float(squared_error + kl))


def test_glasses_direction_cancels_gender():
    means = {
        "men_with_glasses": torch.tensor([3.0, 1.0]),
        "men_without_glasses": torch.tensor([1.0, 1.0]),
        "women_with_glasses": torch.tensor([2.0, -1.0]),
        "women_without_glasses": torch.tensor([0.0, -1.0]),
    }
    # the second coordinate is "male"; the direction must not carry it however unequal the groups' sizes
    assert torch.equal(glasses_direction(means), torch.tensor([2.0, 0.0]))


def test_face_groups_leave_out_sunglasses():
    face = {"eyeglasses": 1, "male": 1, "likely_sunglasses": 0}
    assert face_group(face) == "men_with_glasses"
    assert face_group({**face, "likely_sunglasses": 1}) is None
    assert face_group({**face, "male": 0}) == "women_with_glasses"
    assert face_group({**face, "eyeglasses": 0, "male": 0}) == "women_without_glasses"
    assert face_group({**face, "eyeglasses": 0}) == "men_without_glasses"


def test_tiny_filter_takes_faces_of_every_group(tmp_path):
    data = tiny_synthetic_faces(tmp_path / "faces", count=64)
    faces = FaceDataset(data, split="train", keep=first_of_each_group(3), progress=False)
    sizes = Counter(map(face_group, faces.attributes))
    assert set(sizes) == set(GROUPS) and all(size == 3 for size in sizes.values())


# --- saving and loading ---------------------------------------------------------------------


def test_save_and_load_round_trip(vae, tmp_path):
    bundle = load_face_vae(saved_folder(vae, tmp_path))
    assert {"config.json", "model.safetensors", ATTRIBUTE_VECTORS_FILE} <= {path.name for path in tmp_path.iterdir()}
    assert not bundle.model.training
    images = torch.rand(2, 3, 64, 64)
    assert torch.equal(reconstruct(vae, images), reconstruct(bundle.model, images))
    assert set(bundle.vectors) == set(VECTOR_NAMES)
    assert all(vector.shape == (100,) for vector in bundle.vectors.values())
    assert torch.allclose(bundle.vectors[GLASSES_DIRECTION], glasses_direction(bundle.vectors))
    assert bundle.group_sizes == dict.fromkeys(GROUPS, 7)


def test_128_round_trip(tmp_path):
    model = FaceVAE(image_size=128, width=16).eval()
    bundle = load_face_vae(saved_folder(model, tmp_path))
    assert bundle.model.image_size == 128
    assert sample(bundle.model, 2, seed=0).shape == (2, 3, 128, 128)


def test_loading_is_strict(vae, tmp_path):
    saved_folder(vae, tmp_path)
    state = {key: value for key, value in vae.state_dict().items() if not key.startswith("decoder")}
    save_file(state, tmp_path / "model.safetensors")
    with pytest.raises(RuntimeError, match="[Mm]issing"):
        load_face_vae(tmp_path)


def test_missing_vectors_are_a_clear_error(vae, tmp_path):
    saved_folder(vae, tmp_path)
    (tmp_path / ATTRIBUTE_VECTORS_FILE).unlink()
    with pytest.raises(FileNotFoundError, match="attribute_vectors.safetensors is missing"):
        load_face_vae(tmp_path)


def test_corrupt_vectors_are_a_clear_error(vae, tmp_path):
    saved_folder(vae, tmp_path)
    path = tmp_path / ATTRIBUTE_VECTORS_FILE
    path.write_bytes(path.read_bytes()[:40])  # truncated
    with pytest.raises(ValueError, match="corrupt"):
        load_face_vae(tmp_path)
    path.write_bytes(b"not a safetensors file at all")
    with pytest.raises(ValueError, match="corrupt"):
        load_face_vae(tmp_path)


@pytest.mark.parametrize(
    "tensors, message",
    [
        ({name: torch.zeros(100) for name in GROUPS}, "lacks the attribute vectors glasses_direction"),
        ({name: torch.zeros(64) for name in VECTOR_NAMES}, r"shape \(64,\), expected \(100,\)"),
        (
            {**{name: torch.zeros(100) for name in VECTOR_NAMES}, GLASSES_DIRECTION: torch.full((100,), torch.nan)},
            "NaN",
        ),
    ],
)
def test_unusable_vectors_are_refused(vae, tmp_path, tensors, message):
    saved_folder(vae, tmp_path)
    save_file(tensors, tmp_path / ATTRIBUTE_VECTORS_FILE)
    with pytest.raises(ValueError, match=message):
        load_face_vae(tmp_path)


# --- inference ------------------------------------------------------------------------------


def test_sample_is_seeded_and_interpolation_hits_the_ends(vae):
    assert sample(vae, 4, seed=3).shape == (4, 3, 64, 64)
    assert torch.equal(sample(vae, 4, seed=3), sample(vae, 4, seed=3))
    assert not torch.equal(sample(vae, 4, seed=3), sample(vae, 4, seed=4))
    face_a, face_b = torch.rand(3, 64, 64), torch.rand(3, 64, 64)
    strip = interpolate(vae, face_a, face_b, steps=6)
    assert strip.shape == (6, 3, 64, 64)
    assert torch.allclose(strip[0], reconstruct(vae, face_a[None])[0], atol=1e-5)
    assert torch.allclose(strip[-1], reconstruct(vae, face_b[None])[0], atol=1e-5)


def test_arithmetic_decodes_the_weighted_sum(vae, vectors):
    weights = {"men_with_glasses": 1.0, "men_without_glasses": -1.0, "women_without_glasses": 0.5}
    latent = vectors["men_with_glasses"] - vectors["men_without_glasses"] + 0.5 * vectors["women_without_glasses"]
    expected = vae.decode(latent[None])
    assert torch.allclose(arithmetic(vae, vectors, weights), expected, atol=1e-5)
    with pytest.raises(ValueError, match="Unknown attribute vectors"):
        arithmetic(vae, vectors, {"men_with_hats": 1.0})


def test_presets_are_all_decodable(vae, vectors):
    assert len(PRESETS) >= 2
    book = [
        {"men_with_glasses": 1.0, "men_without_glasses": -1.0, "women_without_glasses": 1.0},
        {"men_with_glasses": 1.0, "women_with_glasses": -1.0, "women_without_glasses": 1.0},
    ]
    assert all(weights in PRESETS.values() for weights in book)
    for weights in PRESETS.values():
        assert set(weights) <= set(GROUPS)
        face = arithmetic(vae, vectors, weights)
        assert face.shape == (1, 3, 64, 64) and torch.isfinite(face).all()
        assert 0 <= face.min() and face.max() <= 1


def test_edit_glasses(vae, vectors):
    face = torch.rand(3, 64, 64)
    assert torch.allclose(edit_glasses(vae, vectors, face, strength=0.0), reconstruct(vae, face[None]), atol=1e-6)
    with_glasses = edit_glasses(vae, vectors, face, strength=1.5)
    assert with_glasses.shape == (1, 3, 64, 64)
    expected = vae.decode(vae.encode(face[None]) + 1.5 * vectors[GLASSES_DIRECTION])
    assert torch.allclose(with_glasses, expected, atol=1e-5)
    assert edit_glasses(vae, vectors, torch.rand(4, 3, 64, 64), strength=-1.0).shape == (4, 3, 64, 64)


# --- training -------------------------------------------------------------------------------


def test_tiny_training_writes_a_loadable_folder(tmp_path):
    data = tiny_synthetic_faces(tmp_path / "faces", count=48)
    out, run = tmp_path / "out", tmp_path / "run"
    args = ["--data-dir", str(data), "--out-dir", str(out), "--run-dir", str(run), "--tiny", "--batch-size", "16"]
    metrics = train_face_vae.main(args)
    assert set(metrics) == {"loss", "kl", "mse"} and 0 < metrics["mse"] < 0.25

    bundle = load_face_vae(out)
    assert set(bundle.vectors) == set(VECTOR_NAMES)
    assert all(vector.shape == (bundle.model.latent_dim,) for vector in bundle.vectors.values())
    # each group vector is the mean posterior mean of that group's training faces
    train_faces = FaceDataset(data, split="train", keep=first_of_each_group(40), progress=False)
    groups = [face_group(attributes) for attributes in train_faces.attributes]
    assert bundle.group_sizes == {name: groups.count(name) for name in GROUPS}
    codes = bundle.model.encode(train_faces.images.float().div(255)).detach()
    for name in GROUPS:
        members = torch.tensor([group == name for group in groups])
        assert torch.allclose(bundle.vectors[name], codes[members].mean(0), atol=1e-4)
    assert torch.allclose(bundle.vectors[GLASSES_DIRECTION], glasses_direction(bundle.vectors), atol=1e-6)

    card = (out / "README.md").read_text()
    assert "--tiny" in card and "wall time" in card and "non-commercial" in card and ATTRIBUTE_VECTORS_FILE in card
    assert json.loads((out / "training_metrics.json").read_text())
    for figure in ("loss.png", "reconstructions_epoch001.png", "samples_epoch001.png"):
        assert (run / figure).exists()

    # resume: a second epoch continues from the checkpoint instead of starting over
    resumed = train_face_vae.main([*args, "--resume", "--epochs", "2"])
    checkpoint = torch.load(run / "checkpoint.pt", weights_only=True)
    assert checkpoint["epoch"] == 2 and len(checkpoint["history"]["val"]) == len(checkpoint["history"]["train"]) == 2
    assert (run / "reconstructions_epoch002.png").exists()
    assert resumed["loss"] < metrics["loss"]  # one more epoch of training lowered the held-out loss
    assert "| epochs | 2 |" in (out / "README.md").read_text()
