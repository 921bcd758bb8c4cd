"""The hair CycleGAN: networks, losses, the fake pool, the pair on disk, the direction rule, and tiny training."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from models.cyclegan import (
    DIRECTIONS,
    HairGenerators,
    ImagePool,
    PatchDiscriminator,
    ResnetGenerator,
    adversarial_loss,
    choose_direction,
    discriminator_loss,
    generator_losses,
    hair_looks_blond,
    load_cyclegan,
    round_trip,
    save_cyclegan,
    translate,
)
from training import train_cyclegan
from training.faces import FaceDataset, tiny_synthetic_faces


@pytest.fixture(scope="module")
def synthetic_faces(tmp_path_factory):
    return tiny_synthetic_faces(tmp_path_factory.mktemp("faces"), count=64)


@pytest.fixture
def pair():
    torch.manual_seed(0)
    return HairGenerators(ResnetGenerator(8, 2).eval(), ResnetGenerator(8, 2).eval(), image_size=64)


@pytest.mark.parametrize("size", [64, 128])
def test_shapes(size):
    images = torch.rand(2, 3, size, size) * 2 - 1
    output = ResnetGenerator(width=8, residual_blocks=2)(images)
    assert output.shape == (2, 3, size, size)
    assert output.abs().max() <= 1  # Tanh
    patches = PatchDiscriminator(width=8)(images)
    assert patches.shape == (2, 1, size // 8 - 2, size // 8 - 2)  # 6×6 at 64, 14×14 at 128


def test_256_runs_and_the_default_sizes_fit_the_weights_limit():
    images = torch.rand(1, 3, 256, 256)
    assert ResnetGenerator(4, 1)(images).shape == (1, 3, 256, 256)
    assert PatchDiscriminator(4)(images).shape == (1, 1, 30, 30)
    parameters = sum(p.numel() for p in ResnetGenerator().parameters())
    assert parameters * 4 / 2**20 <= train_cyclegan.MAX_WEIGHTS_MIB
    with pytest.raises(SystemExit):  # the paper's 64-wide, 9-block generator is 43 MiB: refused up front
        train_cyclegan.parse_args(["--width", "64", "--residual-blocks", "9"])


def test_translate_keeps_any_size_and_range(pair):
    images = torch.rand(2, 3, 66, 70)  # not multiples of 4
    for direction in DIRECTIONS:
        output = translate(pair, images, direction)
        assert output.shape == images.shape and 0 <= output.min() and output.max() <= 1
    translated, back = round_trip(pair, images, "black_to_blond")
    assert torch.equal(translated, translate(pair, images, "black_to_blond"))
    assert torch.equal(back, translate(pair, translated, "blond_to_black"))
    with pytest.raises(ValueError, match="direction"):
        translate(pair, images, "red_to_green")


def test_losses():
    ones, zeros = torch.ones(2, 1, 6, 6), torch.zeros(2, 1, 6, 6)
    assert adversarial_loss(ones, real=True) == 0 and adversarial_loss(zeros, real=False) == 0
    assert adversarial_loss(zeros, real=True) == 1 and adversarial_loss(ones, real=False) == 1

    def brightness(images):  # a "discriminator" that scores each image by its mean value
        return images.mean((1, 2, 3), keepdim=True)

    real, fake = torch.ones(2, 3, 8, 8), torch.zeros(2, 3, 8, 8)
    assert discriminator_loss(brightness, real, fake) == 0  # it tells them apart perfectly
    assert discriminator_loss(brightness, fake, real) == 1  # perfectly wrong: 0.5 · (1 + 1)

    # Identity generators: nothing to cycle back, nothing changed; only the adversarial term is left.
    black, blond = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    total, parts, (fake_blond, fake_black) = generator_losses(
        nn.Identity(), nn.Identity(), brightness, brightness, black, blond
    )
    assert parts["cycle"] == 0 and parts["identity"] == 0
    expected = adversarial_loss(brightness(black), True) + adversarial_loss(brightness(blond), True)
    assert torch.allclose(total, expected) and torch.equal(fake_blond, black) and torch.equal(fake_black, blond)

    # Real generators: weights as in the paper, and gradients reach both generators.
    torch.manual_seed(0)
    generators = ResnetGenerator(4, 1), ResnetGenerator(4, 1)
    judges = PatchDiscriminator(4), PatchDiscriminator(4)
    black, blond = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    total, parts, _ = generator_losses(*generators, *judges, black, blond, cycle_weight=10, identity_weight=0.5)
    assert torch.allclose(total, parts["adversarial"] + 10 * parts["cycle"] + 5 * parts["identity"])
    assert parts["cycle"] > 0 and parts["identity"] > 0
    total.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for g in generators for p in g.parameters())
    _, parts, _ = generator_losses(*generators, *judges, black, blond, identity_weight=0)
    assert parts["identity"] == 0


def test_image_pool():
    torch.manual_seed(0)
    assert ImagePool(0).query(torch.ones(3, 1)).tolist() == [[1.0]] * 3  # size 0: no pool at all

    pool = ImagePool(size=4)
    first = torch.arange(4.0).view(4, 1)
    assert torch.equal(pool.query(first), first)  # filling up: fakes go straight through and are kept
    assert len(pool.images) == 4

    returned_any_old = kept_any_new = False
    for round_ in range(1, 6):
        before = sorted(float(image) for image in pool.images)
        fresh = torch.arange(4.0).view(4, 1) + 10 * round_
        out = pool.query(fresh)
        after = sorted(float(image) for image in pool.images)
        # Each fresh fake is either returned, or stored in place of an old one that is returned instead.
        assert sorted(out.flatten().tolist() + after) == sorted(before + fresh.flatten().tolist())
        assert len(pool.images) == 4
        returned_any_old |= any(value in before for value in out.flatten().tolist())
        kept_any_new |= any(value in fresh.flatten().tolist() for value in after)
    assert returned_any_old and kept_any_new  # both branches happen

    restored = ImagePool(size=1)
    restored.load_state_dict(pool.state_dict())
    assert restored.size == 4 and [float(i) for i in restored.images] == [float(i) for i in pool.images]


def test_pair_round_trip_on_disk_is_strict(pair, tmp_path):
    save_cyclegan(tmp_path, pair)
    assert json.loads((tmp_path / "config.json").read_text())["image_size"] == 64
    for direction in DIRECTIONS:
        assert {"config.json", "model.safetensors"} <= {path.name for path in (tmp_path / direction).iterdir()}
    loaded = load_cyclegan(tmp_path)
    images = torch.rand(2, 3, 64, 64)
    for direction in DIRECTIONS:
        assert torch.equal(translate(loaded, images, direction), translate(pair, images, direction))
    # either generator also loads alone
    alone = ResnetGenerator.from_pretrained(tmp_path / "blond_to_black")
    assert torch.equal(alone(images), pair.blond_to_black(images))

    weights = tmp_path / "black_to_blond" / "model.safetensors"
    state = load_file(weights)
    save_file({key: value for key, value in state.items() if not key.startswith("net.4.")}, weights)
    with pytest.raises(RuntimeError, match="[Mm]issing"):
        load_cyclegan(tmp_path)


def test_folder_of_another_model_is_refused(tmp_path):
    ResnetGenerator(4, 1).save_pretrained(tmp_path)  # a lone generator, not the pair
    with pytest.raises(ValueError, match="hair-cyclegan"):
        load_cyclegan(tmp_path)


@pytest.mark.parametrize("size", [64, 128])
def test_choose_direction_reads_the_hair(synthetic_faces, size):
    faces = FaceDataset(synthetic_faces, image_size=size, split="all", progress=False)
    images = faces.images.float() / 255
    blond = faces.labels("blond_hair").bool()
    assert 0 < blond.sum() < len(blond)
    choices = choose_direction(images)
    assert [choice.direction for choice in choices] == [
        "blond_to_black" if is_blond else "black_to_blond" for is_blond in blond
    ]
    assert torch.equal(hair_looks_blond(images), blond)
    blond_choice = choices[int(blond.nonzero()[0])]
    assert "blond → black" in blond_choice.message and blond_choice.blond_fraction > blond_choice.dark_fraction


def test_learning_rate_is_constant_then_decays_linearly():
    factor = train_cyclegan.linear_decay(epochs=4, decay_epochs=2)
    assert [factor(finished) for finished in range(4)] == pytest.approx([1, 1, 2 / 3, 1 / 3])


def test_tiny_training_writes_a_loadable_pair_and_resumes(synthetic_faces, tmp_path):
    out, run = tmp_path / "out", tmp_path / "run"
    args = [
        "--data-dir", str(synthetic_faces), "--out-dir", str(out), "--run-dir", str(run), "--tiny",
        "--width", "8", "--residual-blocks", "2", "--disc-width", "8", "--batch-size", "4", "--pool-size", "6",
        "--lr", "1e-3",
    ]  # fmt: skip
    metrics = train_cyclegan.main(args)

    generators = load_cyclegan(out)
    assert generators.image_size == 64
    faces = torch.rand(2, 3, 64, 64)
    assert translate(generators, faces, "black_to_blond").shape == (2, 3, 64, 64)
    for direction in DIRECTIONS:
        assert (out / direction / "model.safetensors").stat().st_size <= 25 * 2**20
    card = (out / "README.md").read_text()
    assert "--tiny" in card and "wall time" in card and "non-commercial" in card and "female" in card
    assert "cycle L1" in card and json.loads((out / "training_metrics.json").read_text())
    assert (run / "loss.png").exists() and (run / "val.png").exists() and (run / "translations_epoch001.png").exists()
    assert 0 < metrics["cycle_l1"] < 1 and metrics["change_l1_black"] > 0 and 0 <= metrics["recoloured_black"] <= 1

    first = torch.load(run / "checkpoint.pt", weights_only=True)
    steps = first["optimizer_g"]["state"][0]["step"]
    assert first["epoch"] == 1 and steps > 0 and len(first["pool_black"]["images"]) == 6

    resumed = train_cyclegan.main([*args, "--resume", "--epochs", "2"])
    second = torch.load(run / "checkpoint.pt", weights_only=True)
    assert second["epoch"] == 2 and len(second["history"]["cycle"]) == 2
    assert second["history"]["cycle"][0] == first["history"]["cycle"][0]  # epoch 1 kept, not redone
    assert second["optimizer_g"]["state"][0]["step"] == 2 * steps  # Adam continued from its saved state
    assert second["scheduler_g"]["last_epoch"] == 2
    assert not torch.equal(second["black_to_blond"]["net.1.weight"], first["black_to_blond"]["net.1.weight"])
    assert resumed["cycle_l1"] < metrics["cycle_l1"]  # a second epoch made the round trips more faithful
