"""The conditional GAN: shapes, continuous labels, seeding, strict saving and loading, the glasses-aware
sampling, and tiny training with exact resume."""

import json
import math

import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from models.attributes import AttributeClassifier
from models.conditional_gan import (
    LABEL_STAGE,
    ConditionalDiscriminator,
    ConditionalGenerator,
    generate,
    glasses_sweep,
    load_conditional_discriminator,
    load_conditional_generator,
)
from models.dcgan import Discriminator, Generator, face_seeds, noise_for_seeds
from training import train_conditional_gan
from training.faces import tiny_synthetic_faces
from training.train_conditional_gan import sampling_weights, without_sunglasses

WIDTH = 8  # narrow networks keep the tests fast; the shapes do not depend on the width


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    model = ConditionalGenerator(image_size=64, width=WIDTH)
    with torch.no_grad():  # batch-norm statistics that are not the initial 0 and 1, as after training
        model(torch.randn(64, 100), torch.randint(0, 2, (64,)).float())
    return model.eval()


@pytest.mark.parametrize("size", [64, 128])
def test_shapes(size):
    generator, discriminator = ConditionalGenerator(size, WIDTH), ConditionalDiscriminator(size, WIDTH)
    fakes = generator(torch.randn(4, 100), torch.tensor([0.0, 1.0, 0.5, 0.25]))
    assert fakes.shape == (4, 3, size, size)
    assert -1 <= fakes.min() and fakes.max() <= 1  # tanh
    assert discriminator(fakes, torch.tensor([0, 1, 0, 1])).shape == (4,)  # one logit per image
    assert generator(torch.randn(2, 100), 1.0).shape == (2, 3, size, size)  # one label for the whole batch


def test_the_label_is_a_straight_line_between_two_maps_added_at_8x8(generator):
    without, with_ = generator.glasses_maps
    maps = generator.glasses_map(torch.tensor([0.0, 1.0, 0.5, 0.25]))
    assert maps.shape == (4, 4 * WIDTH, 8, 8)
    assert torch.equal(maps[0], without) and torch.equal(maps[1], with_)
    assert torch.allclose(maps[2], (without + with_) / 2)
    assert torch.allclose(maps[3], 0.75 * without + 0.25 * with_)
    # before the 8×8 stage, only the noise counts: the DCGAN body, with the map added to its 8×8 activations
    noise = torch.randn(4, 100)
    with torch.no_grad():
        activations = generator.body.net[:LABEL_STAGE](noise)
        assert activations.shape == (4, 4 * WIDTH, 8, 8)
        expected = generator.body.net[LABEL_STAGE:](activations + maps)
        assert torch.allclose(generator(noise, torch.tensor([0.0, 1.0, 0.5, 0.25])), expected, atol=1e-6)


def test_discriminator_reads_the_label():
    torch.manual_seed(0)
    discriminator = ConditionalDiscriminator(64, WIDTH).eval()
    images = torch.rand(3, 3, 64, 64) * 2 - 1
    without, with_ = discriminator(images, torch.zeros(3)), discriminator(images, torch.ones(3))
    assert not torch.allclose(without, with_)
    # the label only adds its own head: the difference is that of the two projection kernels on the features
    features = discriminator.body.net[:-2](images).flatten(1)
    kernels = discriminator.projection.weight
    assert torch.allclose(with_ - without, features @ (kernels[1] - kernels[0]), atol=1e-5)
    # without labels: both labels' logits at once, from the same features
    both = discriminator(images)
    assert both.shape == (3, 2)
    assert torch.allclose(both[:, 0], without, atol=1e-6) and torch.allclose(both[:, 1], with_, atol=1e-6)
    mixed = discriminator(images, torch.tensor([1, 0, 1]))
    assert torch.allclose(mixed, torch.stack([with_[0], without[1], with_[2]]), atol=1e-6)


def test_generate_is_seeded_with_the_dcgan_noise(generator):
    faces = generate(generator, 3, seed=5, glasses=1.0)
    assert faces.shape == (3, 3, 64, 64) and 0 <= faces.min() and faces.max() <= 1
    assert torch.equal(faces, generate(generator, 3, seed=5, glasses=1.0))
    assert not torch.allclose(faces, generate(generator, 3, seed=6, glasses=1.0))
    assert torch.allclose(faces[:2], generate(generator, 2, seed=5, glasses=1.0), atol=1e-5)  # more faces add
    # the first face is seed 5's own, from the same noise as models.dcgan's seed 5
    assert face_seeds(5, 3)[0] == 5
    with torch.no_grad():
        own = generator(noise_for_seeds([5]), torch.ones(1)).add(1).div(2).clamp(0, 1)
    assert torch.allclose(faces[0], own[0], atol=1e-5)


def test_the_label_changes_the_faces_continuously(generator):
    labels = [0.0, 0.25, 0.5, 0.75, 1.0]
    faces = [generate(generator, 4, seed=1, glasses=label) for label in labels]
    steps = [(later - earlier).abs().mean() for earlier, later in zip(faces, faces[1:])]
    assert all(step > 0 for step in steps)
    # halfway through the label moves the faces less than the whole way
    assert (faces[2] - faces[0]).abs().mean() < (faces[4] - faces[0]).abs().mean()
    for outside in (-0.1, 1.5):
        with pytest.raises(ValueError, match="between 0"):
            generate(generator, 1, seed=0, glasses=outside)


def test_glasses_sweep_goes_from_without_to_with(generator):
    sweep = glasses_sweep(generator, seed=11, steps=5)
    assert sweep.shape == (5, 3, 64, 64)
    assert torch.allclose(sweep[0], generate(generator, 1, seed=11, glasses=0.0)[0], atol=1e-5)
    assert torch.allclose(sweep[2], generate(generator, 1, seed=11, glasses=0.5)[0], atol=1e-5)
    assert torch.allclose(sweep[-1], generate(generator, 1, seed=11, glasses=1.0)[0], atol=1e-5)
    truncated = glasses_sweep(generator, seed=11, steps=3, noise_scale=0.7)
    assert torch.allclose(truncated[-1], generate(generator, 1, seed=11, glasses=1.0, noise_scale=0.7)[0], atol=1e-5)
    with pytest.raises(ValueError):
        glasses_sweep(generator, seed=11, steps=1)


@pytest.mark.parametrize("cls", [ConditionalGenerator, ConditionalDiscriminator])
def test_save_and_load_round_trip(cls, tmp_path):
    torch.manual_seed(1)
    model = cls(image_size=128, width=WIDTH).eval()
    model.save_pretrained(tmp_path)
    expected = {"image_size": 128, "width": WIDTH}
    if cls is ConditionalGenerator:
        expected |= {"noise_dim": 100}
    assert json.loads((tmp_path / "config.json").read_text()) == expected
    loaded = cls.from_pretrained(tmp_path)
    assert not loaded.training
    assert loaded.state_dict().keys() == model.state_dict().keys()
    for name, tensor in model.state_dict().items():  # weights, label embeddings and batch-norm statistics
        assert torch.equal(tensor, loaded.state_dict()[name]), name


def test_loading_is_strict(generator, tmp_path):
    generator.save_pretrained(tmp_path)
    state = {key: value for key, value in generator.state_dict().items() if key != "glasses_maps"}
    save_file(state, tmp_path / "model.safetensors")
    with pytest.raises(RuntimeError, match="[Mm]issing"):
        load_conditional_generator(tmp_path)


def test_generator_fits_a_shipped_file():
    generator = ConditionalGenerator(64, 32)  # the default width of the training script
    assert sum(p.numel() for p in generator.parameters()) * 4 < 25 * 2**20


# --- sampling -------------------------------------------------------------------------------


def test_sampling_weights_balance_glasses_and_sex():
    # 2 women and 6 men with glasses, 30 women and 12 men without: CelebA's imbalance, in small
    glasses = torch.tensor([1] * 8 + [0] * 42)
    male = torch.tensor([0] * 2 + [1] * 6 + [0] * 30 + [1] * 12)
    weights = sampling_weights(glasses, male, glasses_share=1 / 3, male_share=0.5)
    share = weights / weights.sum()
    assert share[glasses == 1].sum() == pytest.approx(1 / 3)
    for label, label_share in ((1, 1 / 3), (0, 2 / 3)):
        in_label = glasses == label
        assert share[in_label & (male == 1)].sum() == pytest.approx(label_share / 2)  # half men, at each label
        for sex in (0, 1):
            group = share[in_label & (male == sex)]
            assert torch.allclose(group, group[0].expand_as(group))  # evenly within a group

    # a label with one sex only: that sex takes the label's whole share
    weights = sampling_weights(torch.tensor([1, 1, 0, 0]), torch.tensor([1, 1, 0, 1]), 0.5, 0.5)
    assert weights[:2].sum() == pytest.approx(0.5) and weights[2:].tolist() == pytest.approx([0.25, 0.25])
    with pytest.raises(ValueError, match="glasses"):
        sampling_weights(torch.zeros(4, dtype=torch.long), torch.tensor([0, 1, 0, 1]), 0.5, 0.5)


# --- training -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def faces_dir(tmp_path_factory):
    return tiny_synthetic_faces(tmp_path_factory.mktemp("faces"), count=48)


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory):
    """An untrained attribute classifier: the figures are meaningless, but the measuring runs end to end."""
    folder = tmp_path_factory.mktemp("attributes")
    torch.manual_seed(0)
    AttributeClassifier(image_size=64, width=8).save_pretrained(folder)
    return folder


def test_parse_args_checks_the_classifier_and_shares(tmp_path):
    args = train_conditional_gan.parse_args(["--attributes", "none", "--run-dir", str(tmp_path)])
    assert args.attributes is None and args.out_dir.name == "faces-cgan" and args.epochs == 30
    with pytest.raises(SystemExit):
        train_conditional_gan.parse_args(["--attributes", str(tmp_path / "missing")])
    with pytest.raises(SystemExit):
        train_conditional_gan.parse_args(["--attributes", "none", "--glasses-share", "1"])


def test_tiny_training_writes_a_loadable_folder_and_resumes(faces_dir, classifier_dir, tmp_path):
    out, run = tmp_path / "out", tmp_path / "run"
    args = ["--data-dir", str(faces_dir), "--out-dir", str(out), "--run-dir", str(run), "--tiny"]
    args += ["--width", str(WIDTH), "--batch-size", "16", "--attributes", str(classifier_dir)]
    final = train_conditional_gan.main(args)

    generator = load_conditional_generator(out)
    assert generate(generator, 2, seed=0, glasses=0.5).shape == (2, 3, 64, 64)
    discriminator = load_conditional_discriminator(out)
    assert discriminator(torch.zeros(2, 3, 64, 64), torch.tensor([0, 1])).shape == (2,)
    assert not (out / "discriminator" / "README.md").exists()
    card = (out / "README.md").read_text()
    assert "--tiny" in card and "wall time" in card and "non-commercial" in card and "projection" in card
    assert "read as wearing glasses at label 1" in card and "target ≥ 85%" in card and "same sex" in card
    assert "real women with glasses" in card and "eye band (rows 28-41)" in card and "wrong label" in card
    assert "clear glasses" in card  # likely sunglasses left out by default
    metrics = json.loads((out / "training_metrics.json").read_text())
    assert any(key.startswith("read as wearing glasses at label 0") for key in metrics)
    for name in ("glasses_at_1", "glasses_at_0", "men_kept", "women_kept"):  # NaN where no seed read as men/women
        assert 0 <= final[name] <= 1 or math.isnan(final[name])
    for name in ("glasses_at_1", "glasses_at_0", "same_sex", "real_men_read_as_men", "change_elsewhere"):
        assert 0 <= final[f"eval_{name}"] <= 1
    assert 0 < final["D(x)"] < 1 and 0 < final["D(G(z))"] < 1 and 0 < final["D(x, wrong label)"] < 1
    assert final["generator"] > 0
    for figure in ("samples_epoch001.png", "loss.png", "discriminator_outputs.png", "conditioning.png"):
        assert (run / figure).exists()
    assert Image.open(run / "samples_epoch001.png").size == (8 * 65 + 1, 8 * 65 + 1)  # 8×8 faces, 1 px apart

    # resume: the second epoch starts from the checkpoint of the first, both networks and optimisers
    first = torch.load(run / "checkpoint.pt", weights_only=True)
    train_conditional_gan.main([*args, "--resume", "--epochs", "2"])
    second = torch.load(run / "checkpoint.pt", weights_only=True)
    assert second["epoch"] == 2 and all(len(values) == 2 for values in second["history"].values())
    assert second["history"]["generator"][0] == first["history"]["generator"][0]
    assert second["optimizer_d"]["state"][0]["step"] == 2 * first["optimizer_d"]["state"][0]["step"]
    assert second["optimizer_g"]["state"][0]["step"] == 2 * first["optimizer_g"]["state"][0]["step"]
    assert (run / "samples_epoch002.png").exists()

    # and a resumed run matches an uninterrupted one, step for step
    straight = tmp_path / "straight"
    train_conditional_gan.main(
        [*args, "--run-dir", str(straight), "--out-dir", str(tmp_path / "out2"), "--epochs", "2"]
    )
    uninterrupted = torch.load(straight / "checkpoint.pt", weights_only=True)
    assert uninterrupted["history"].keys() == second["history"].keys()
    for name, values in uninterrupted["history"].items():  # NaN where the classifier read no seed as a woman
        torch.testing.assert_close(torch.tensor(values), torch.tensor(second["history"][name]), equal_nan=True)
    for network in ("generator", "discriminator"):
        for name, tensor in uninterrupted[network].items():
            assert torch.allclose(tensor.float(), second[network][name].float(), atol=1e-6), (network, name)


def test_training_without_the_classifier_from_a_dcgan(faces_dir, tmp_path):
    torch.manual_seed(3)
    dcgan = tmp_path / "dcgan"
    Generator(64, WIDTH).save_pretrained(dcgan)
    Discriminator(64, WIDTH).save_pretrained(dcgan / "discriminator")
    out, run = tmp_path / "out", tmp_path / "run"
    args = ["--data-dir", str(faces_dir), "--out-dir", str(out), "--run-dir", str(run), "--tiny", "--attributes"]
    args += ["none", "--width", str(WIDTH), "--batch-size", "16", "--init", str(dcgan), "--lr", "0"]
    final = train_conditional_gan.main(args)
    assert "glasses_at_1" not in final and not (run / "conditioning.png").exists()
    card = (out / "README.md").read_text()
    assert "not measured" in card and f"the DCGAN in {dcgan}" in card
    # with a learning rate of 0, the bodies are still the DCGAN's weights (batch-norm statistics apart)
    generator, discriminator = load_conditional_generator(out), load_conditional_discriminator(out)
    for body, folder in ((generator.body, dcgan), (discriminator.body, dcgan / "discriminator")):
        trained = (Generator if body is generator.body else Discriminator).from_pretrained(folder).state_dict()
        for name, value in body.state_dict().items():
            if "running" not in name and "num_batches" not in name:
                assert torch.equal(value, trained[name]), name

    other = tmp_path / "wider"
    Generator(64, 2 * WIDTH).save_pretrained(other)
    Discriminator(64, 2 * WIDTH).save_pretrained(other / "discriminator")
    with pytest.raises(ValueError, match="another shape"):
        train_conditional_gan.main([*args[:-4], "--init", str(other), "--run-dir", str(tmp_path / "run2")])


def test_sunglasses_are_left_out_unless_kept(tmp_path):
    sunglasses = {"eyeglasses": 1, "likely_sunglasses": 1}
    assert not without_sunglasses(sunglasses)
    assert without_sunglasses({"eyeglasses": 1, "likely_sunglasses": 0})
    assert without_sunglasses({"eyeglasses": 0, "likely_sunglasses": 0})
    args = ["--attributes", "none", "--run-dir", str(tmp_path)]
    assert train_conditional_gan.parse_args(args).sunglasses == "drop"
    assert train_conditional_gan.parse_args([*args, "--sunglasses", "keep"]).sunglasses == "keep"


def test_tiny_runs_take_both_labels(tmp_path):
    rows = [{"eyeglasses": int(index >= 90), "likely_sunglasses": int(index >= 95)} for index in range(100)]
    args = train_conditional_gan.parse_args(["--attributes", "none", "--run-dir", str(tmp_path), "--tiny"])
    keep = train_conditional_gan.face_filter(args)
    kept = [row for row in rows if keep(row)]
    assert sum(row["eyeglasses"] for row in kept) == 5  # the clear glasses; the sunglasses are left out
    assert sum(1 - row["eyeglasses"] for row in kept) == train_conditional_gan.TINY_FACES // 2
    full = train_conditional_gan.parse_args(["--attributes", "none", "--run-dir", str(tmp_path)])
    assert sum(map(train_conditional_gan.face_filter(full), rows)) == 95
