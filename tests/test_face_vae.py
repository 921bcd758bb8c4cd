"""The face VAE: model, loss, attribute vectors, inference functions and the tiny training run."""

import argparse
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
    load_attribute_vectors,
    load_face_vae,
    reconstruct,
    sample,
    save_attribute_vectors,
    sex_readout,
    without_component,
)
from models.face_vaegan import FaceDiscriminator, feature_distance
from training import train_face_vae
from training.faces import FaceDataset, tiny_synthetic_faces
from training.train_face_vae import (
    face_group,
    figure_faces,
    first_of_each_group,
    learning_rate,
    training_loader,
    warm_start,
)


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


def test_sex_readout_and_removing_its_component():
    generator = torch.Generator().manual_seed(0)
    male = torch.arange(400) % 2
    latents = torch.randn(400, 3, generator=generator)
    latents[:, 0] += 2.0 * male  # coordinate 0 is sex; coordinate 1 has more spread, and no sex in it
    latents[:, 1] *= 3
    readout = sex_readout(latents, male)
    assert abs(float(readout[0])) > 10 * max(abs(float(readout[1])), abs(float(readout[2])))
    direction = torch.tensor([1.0, 2.0, 0.5])
    neutral = without_component(direction, readout)
    assert abs(float(neutral @ readout)) < 1e-5
    assert torch.allclose(neutral, torch.tensor([0.0, 2.0, 0.5]), atol=0.1)  # the sex part gone, the rest kept


def test_attribute_vectors_store_a_given_direction_and_notes(tmp_path):
    means = {name: torch.randn(100) for name in GROUPS}
    save_attribute_vectors(tmp_path, means, dict.fromkeys(GROUPS, 3), torch.ones(100), {"glasses_direction": "made"})
    vectors, sizes = load_attribute_vectors(tmp_path, 100)
    assert torch.equal(vectors[GLASSES_DIRECTION], torch.ones(100)) and sizes == dict.fromkeys(GROUPS, 3)


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


def test_edit_glasses_in_photo_space(vae, vectors):
    faces = torch.rand(2, 3, 64, 64)
    assert torch.allclose(edit_glasses(vae, vectors, faces, strength=0.0, in_photo=True), faces, atol=1e-6)
    latent = vae.encode(faces)
    change = vae.decode(latent + 2.0 * vectors[GLASSES_DIRECTION]) - vae.decode(latent)
    edited = edit_glasses(vae, vectors, faces, strength=2.0, in_photo=True)
    assert torch.allclose(edited, (faces + change).clamp(0, 1), atol=1e-5)
    assert edit_glasses(vae, vectors, faces[0], strength=-1.0, in_photo=True).shape == (1, 3, 64, 64)


# --- the VAE/GAN's discriminator -----------------------------------------------------------------


def test_discriminator_outputs_and_features():
    discriminator = FaceDiscriminator(attributes=5)
    logits, attributes, features = discriminator(torch.rand(3, 3, 64, 64))
    assert logits.shape == (3,) and attributes.shape == (3, 5)
    assert [tuple(feature.shape) for feature in features] == [(3, 64, 16, 16), (3, 128, 8, 8)]
    assert FaceDiscriminator(image_size=128, attributes=0)(torch.rand(2, 3, 128, 128))[1] is None


def test_feature_distance_is_relative():
    targets = [torch.randn(4, 8, 16, 16), torch.randn(4, 16, 8, 8)]
    assert feature_distance(targets, targets) == 0
    shifted = [target + 0.1 * torch.randn_like(target) for target in targets]
    distance = feature_distance(shifted, targets)
    assert distance == pytest.approx(0.01, rel=0.2)  # ||0.1·noise||² / ||target||² with unit-variance targets
    scaled = feature_distance([10 * feature for feature in shifted], [10 * target for target in targets])
    assert scaled == pytest.approx(float(distance), rel=1e-4)  # the features' scale does not matter


def test_clear_glasses_are_oversampled(tmp_path):
    faces = FaceDataset(tiny_synthetic_faces(tmp_path / "faces", count=64), split="train", progress=False)
    loader = training_loader(faces, ["eyeglasses", "male"], batch_size=8, oversampling=4.0)
    weights = loader.sampler.weights
    glasses = faces.labels("eyeglasses").bool()
    assert (weights[glasses] == 4).all() and (weights[~glasses] == 1).all()
    images, labels = next(iter(loader))
    assert images.dtype == torch.uint8 and labels.shape == (8, 2)
    shown = figure_faces(faces, count=8)
    assert shown.shape == (8, 3, 64, 64) and shown.dtype == torch.float32
    first_glasses = faces.images[glasses][:4].float().div(255)
    assert torch.equal(shown[:4], first_glasses)  # the faces with glasses come first


def test_warm_start_copies_a_trained_vae(vae, tmp_path):
    vae.save_pretrained(tmp_path / "trained")
    fresh = FaceVAE()
    warm_start(fresh, tmp_path / "trained")
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), vae.state_dict().values()))
    with pytest.raises(ValueError, match="another shape"):
        warm_start(FaceVAE(width=16), tmp_path / "trained")


# --- training -------------------------------------------------------------------------------


def test_learning_rate_decays_over_the_last_epochs():
    args = argparse.Namespace(lr=1e-3, epochs=10, decay_epochs=4)
    rates = [learning_rate(args, epoch) for epoch in range(1, 11)]
    assert rates[:6] == [1e-3] * 6 and rates[-1] == pytest.approx(1e-4)  # the last 4 epochs decay
    assert all(later < earlier for earlier, later in zip(rates[5:], rates[6:]))


def test_tiny_training_writes_a_loadable_folder(tmp_path):
    data = tiny_synthetic_faces(tmp_path / "faces", count=48)
    out, run = tmp_path / "out", tmp_path / "run"
    args = ["--data-dir", str(data), "--out-dir", str(out), "--run-dir", str(run), "--tiny", "--batch-size", "16"]
    args += ["--decay-epochs", "0"]  # a constant learning rate, the same whatever --epochs says: see the resume below
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
    # the glasses direction: the averaged group difference without its component along the sex readout
    readout = sex_readout(codes, train_faces.labels("male"))
    expected = without_component(glasses_direction(bundle.vectors), readout)
    assert torch.allclose(bundle.vectors[GLASSES_DIRECTION], expected, atol=1e-4)
    assert abs(float(bundle.vectors[GLASSES_DIRECTION] @ readout)) < 1e-3 * float(readout.norm())

    card = (out / "README.md").read_text()
    assert "--tiny" in card and "wall time" in card and "non-commercial" in card and ATTRIBUTE_VECTORS_FILE in card
    assert "VAE/GAN" in card and "Larsen" in card
    assert json.loads((out / "training_metrics.json").read_text())
    for figure in ("loss.png", "gan_losses.png", "reconstructions_epoch001.png", "samples_epoch001.png"):
        assert (run / figure).exists()

    # resume: a second epoch continues from the checkpoint, with every state, instead of starting over
    train_face_vae.main([*args, "--resume", "--epochs", "2"])
    checkpoint = torch.load(run / "checkpoint.pt", weights_only=True)
    steps = 2 * (len(train_faces) // 16)
    assert checkpoint["epoch"] == 2 and len(checkpoint["history"]["val"]) == len(checkpoint["history"]["train"]) == 2
    for optimizer in ("optimizer_vae", "optimizer_discriminator"):
        assert all(state["step"] == steps for state in checkpoint[optimizer]["state"].values())
    assert (run / "reconstructions_epoch002.png").exists()
    assert "| epochs | 2 |" in (out / "README.md").read_text()

    # ... and ends exactly where an uninterrupted two-epoch run does
    straight = tmp_path / "straight"
    train_face_vae.main([*args, "--run-dir", str(straight), "--out-dir", str(straight / "out"), "--epochs", "2"])
    uninterrupted = torch.load(straight / "checkpoint.pt", weights_only=True)
    for name in ("vae", "discriminator"):
        assert checkpoint[name].keys() == uninterrupted[name].keys()
        assert all(torch.allclose(checkpoint[name][key], uninterrupted[name][key]) for key in checkpoint[name])

    # --export-only writes the checkpoint's model without training
    exported = tmp_path / "exported"
    train_face_vae.main([*args, "--export-only", "--out-dir", str(exported)])
    assert torch.load(run / "checkpoint.pt", weights_only=True)["epoch"] == 2
    model = load_face_vae(exported).model
    assert all(torch.equal(value, checkpoint["vae"][key]) for key, value in model.state_dict().items())
    train_face_vae.main([*args, "--export-only", "--out-dir", str(tmp_path / "scaled"), "--glasses-scale", "2"])
    direction, scaled = (load_face_vae(folder).vectors[GLASSES_DIRECTION] for folder in (exported, tmp_path / "scaled"))
    assert torch.allclose(scaled, 2 * direction, atol=1e-6)
    assert "times 2" in (tmp_path / "scaled" / "README.md").read_text()
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train_face_vae.main([*args, "--export-only", "--run-dir", str(tmp_path / "empty")])


# --- the glasses benchmark ------------------------------------------------------------------


def test_glasses_benchmark_on_tiny_models(tmp_path):
    from benchmarks import glasses
    from training import train_attributes

    data = tiny_synthetic_faces(tmp_path / "faces", count=48)
    common = ["--data-dir", str(data), "--tiny", "--batch-size", "16"]
    train_face_vae.main([*common, "--out-dir", str(tmp_path / "vae"), "--run-dir", str(tmp_path / "run-vae")])
    train_attributes.main([*common, "--out-dir", str(tmp_path / "attributes"), "--run-dir", str(tmp_path / "run-a")])
    figures = glasses.main(
        ["--weights", str(tmp_path / "vae"), "--classifier", str(tmp_path / "attributes"), "--data-dir", str(data)]
        + ["--split", "train", "--strengths", "1.5", "3", "--figures", str(tmp_path / "figures")]
        + ["--json", str(tmp_path / "figures.json")]
    )
    assert figures["faces"] == figures["clear_glasses_faces"] + figures["faces_without_glasses"] == 42
    shares = [value for key, value in figures.items() if key.startswith(("photo_", "latent_", "reconstruction_"))]
    # 2 about the photos, 4 about the reconstructions, and 3 (success, sex kept as on the photo and as on the
    # reconstruction) per strength (2), kind of edit (latent, photo) and way (add, remove)
    assert len(shares) == 2 + 4 + 3 * 2 * 2 * 2 and all(0 <= value <= 1 for value in shares)
    assert 0 < figures["mse"] < 0.25
    assert set(figures["presets"]) == set(PRESETS)
    book = figures["presets"][next(iter(PRESETS))]
    assert set(book) == {"eyeglasses", "male", "eyeglasses_as_promised", "male_as_promised"}
    assert json.loads((tmp_path / "figures.json").read_text())["faces"] == 42
    names = {"add_glasses.png", "remove_glasses.png", "presets.png", "samples.png"}
    assert names == {path.name for path in (tmp_path / "figures").iterdir()}


def test_preset_promises():
    from benchmarks.glasses import promise

    assert promise("man with glasses - man without + woman without = woman with glasses") == {
        "eyeglasses": True,
        "male": False,
    }
    assert promise("a = man without glasses") == {"eyeglasses": False, "male": True}
    assert promise("halfway between a man with glasses and a woman without") is None
