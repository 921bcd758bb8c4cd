"""The DCGAN: shapes, strict saving and loading, the app's inference functions, and tiny training."""

import io
import json

import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from models.dcgan import (
    Discriminator,
    Generator,
    animated_gif,
    face_seeds,
    generate,
    interpolate_seeds,
    load_discriminator,
    load_generator,
    noise_for_seeds,
    save_animated_gif,
    slerp,
)
from training import train_dcgan
from training.faces import tiny_synthetic_faces

WIDTH = 8  # narrow networks keep the tests fast; the shapes do not depend on the width


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    return Generator(image_size=64, width=WIDTH).eval()


@pytest.mark.parametrize("size, blocks", [(64, 4), (128, 5)])
def test_shapes(size, blocks):
    generator, discriminator = Generator(size, WIDTH), Discriminator(size, WIDTH)
    fakes = generator(torch.randn(4, 100))
    assert fakes.shape == (4, 3, size, size)
    assert -1 <= fakes.min() and fakes.max() <= 1  # tanh
    assert discriminator(fakes).shape == (4,)  # one logit per image
    # 128×128 has one more up block in G and one more down block in D than 64×64
    up = [layer for layer in generator.net if isinstance(layer, torch.nn.ConvTranspose2d) and layer.stride == (2, 2)]
    down = [layer for layer in discriminator.net if isinstance(layer, torch.nn.Conv2d) and layer.stride == (2, 2)]
    assert len(up) == len(down) == blocks
    assert generator.net[1].out_channels == WIDTH * 2 ** (blocks - 1)  # 4×4 stage: 8w at 64, 16w at 128


def test_width_scales_the_channels():
    narrow, wide = Generator(64, 16), Generator(64, 32)
    assert [layer.out_channels for layer in narrow.net if hasattr(layer, "out_channels")] == [128, 64, 32, 16, 3]
    assert sum(p.numel() for p in wide.parameters()) > 2.5 * sum(p.numel() for p in narrow.parameters())


@pytest.mark.parametrize("size", [48, 8, 100])
def test_image_size_must_be_a_power_of_two(size):
    with pytest.raises(ValueError, match="power of two"):
        Generator(size)


def test_dcgan_initialisation():
    layers = [Generator(64, 32).net[4], Discriminator(64, 32).net[2]]
    weights = torch.cat([layer.weight.detach().flatten() for layer in layers])
    assert weights.mean().abs() < 0.002 and weights.std() == pytest.approx(0.02, rel=0.05)


@pytest.mark.parametrize("cls", [Generator, Discriminator])
def test_save_and_load_round_trip(cls, tmp_path):
    torch.manual_seed(1)
    model = cls(image_size=128, width=WIDTH).eval()
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"image_size": 128, "width": WIDTH} | (
        {"noise_dim": 100} if cls is Generator else {}
    )
    loaded = cls.from_pretrained(tmp_path)
    assert not loaded.training
    for name, tensor in model.state_dict().items():  # weights and batch-norm running statistics
        assert torch.equal(tensor, loaded.state_dict()[name]), name


def test_loading_is_strict(generator, tmp_path):
    generator.save_pretrained(tmp_path)
    state = {key: value for key, value in generator.state_dict().items() if "running_mean" not in key}
    save_file(state, tmp_path / "model.safetensors")
    with pytest.raises(RuntimeError, match="[Mm]issing"):
        load_generator(tmp_path)


def test_generate_is_seeded(generator):
    faces = generate(generator, 3, seed=5)
    assert faces.shape == (3, 3, 64, 64) and 0 <= faces.min() and faces.max() <= 1
    assert torch.equal(faces, generate(generator, 3, seed=5))
    assert not torch.allclose(faces, generate(generator, 3, seed=6))
    assert torch.allclose(faces[:2], generate(generator, 2, seed=5), atol=1e-5)  # more faces add, not change


def test_each_seed_gives_a_new_set_of_faces_starting_with_its_own():
    assert face_seeds(5, 4)[0] == 5 and face_seeds(5, 2) == face_seeds(5, 4)[:2]  # a walk from 5 starts there
    assert not set(face_seeds(0, 64)) & set(face_seeds(1, 64))  # not seed 0's faces shifted by one


def test_noise_scale_is_truncation(generator):
    assert torch.equal(noise_for_seeds([3]) * 0.5, noise_for_seeds([3]) * 0.5)
    average = generate(generator, 1, seed=0, noise_scale=0.0)
    assert torch.allclose(generate(generator, 2, seed=123, noise_scale=0.0), average.expand(2, -1, -1, -1))
    # a smaller scale moves every face towards the average face
    full, half = generate(generator, 4, seed=7), generate(generator, 4, seed=7, noise_scale=0.5)
    assert (half - average).abs().mean() < (full - average).abs().mean()


def test_slerp_stays_on_the_shell():
    start, end = noise_for_seeds([1, 2])
    path = slerp(start, end, torch.linspace(0, 1, 9))
    assert torch.equal(path[0], start) and torch.equal(path[-1], end)
    norms = path.norm(dim=1)
    low, high = min(start.norm(), end.norm()), max(start.norm(), end.norm())
    assert (norms >= low - 1e-4).all() and (norms <= high + 1e-4).all()
    straight_midpoint = (start + end) / 2
    assert straight_midpoint.norm() < 0.8 * path[4].norm()  # the straight line sags towards the origin
    assert torch.equal(slerp(start, start, torch.linspace(0, 1, 3)), start.expand(3, -1))  # parallel: no NaN
    assert not slerp(start * 0, end * 0, torch.linspace(0, 1, 3)).isnan().any()


def test_interpolate_seeds_hits_both_faces(generator):
    strip = interpolate_seeds(generator, 11, 42, steps=6)
    assert strip.shape == (6, 3, 64, 64)
    assert torch.allclose(strip[0], generate(generator, 1, seed=11)[0], atol=1e-5)
    assert torch.allclose(strip[-1], generate(generator, 1, seed=42)[0], atol=1e-5)
    assert not torch.allclose(strip[2], strip[3])
    truncated = interpolate_seeds(generator, 11, 42, steps=6, noise_scale=0.7)
    assert torch.allclose(truncated[-1], generate(generator, 1, seed=42, noise_scale=0.7)[0], atol=1e-5)


def test_animated_gif_goes_there_and_back(generator, tmp_path):
    frames = interpolate_seeds(generator, 1, 2, steps=5)
    gif = Image.open(io.BytesIO(animated_gif(frames, frame_ms=70, scale=2)))
    assert gif.format == "GIF" and gif.is_animated
    assert gif.n_frames == 8  # 1 2 3 4 5 4 3 2, then it loops back to 1
    assert gif.size == (128, 128) and gif.info["loop"] == 0 and gif.info["duration"] == 70
    shown = []
    for index in range(gif.n_frames):
        gif.seek(index)
        shown.append(torch.tensor(list(gif.convert("RGB").resize((64, 64)).getdata()), dtype=torch.float32))
    for forward, backward in [(1, 7), (2, 6), (3, 5)]:
        assert torch.equal(shown[forward], shown[backward])
    assert not torch.equal(shown[0], shown[4])

    path = save_animated_gif(list(frames), tmp_path / "morph.gif")
    assert Image.open(path).n_frames == 8
    assert Image.open(io.BytesIO(animated_gif(frames[:1]))).n_frames == 1
    with pytest.raises(ValueError):
        animated_gif([])


# --- training -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def faces_dir(tmp_path_factory):
    return tiny_synthetic_faces(tmp_path_factory.mktemp("faces"), count=48)


def test_tiny_training_writes_a_loadable_folder_and_resumes(faces_dir, tmp_path):
    out, run = tmp_path / "out", tmp_path / "run"
    args = ["--data-dir", str(faces_dir), "--out-dir", str(out), "--run-dir", str(run), "--tiny"]
    args += ["--width", str(WIDTH), "--batch-size", "16"]
    final = train_dcgan.main(args)

    generator = load_generator(out)
    assert generate(generator, 2, seed=0).shape == (2, 3, 64, 64)
    assert load_discriminator(out)(torch.zeros(2, 3, 64, 64)).shape == (2,)
    card = (out / "README.md").read_text()
    assert "--tiny" in card and "wall time" in card and "non-commercial" in card and "label smoothing" in card
    assert json.loads((out / "training_metrics.json").read_text())
    assert set(final) == {"generator", "discriminator", "D(x)", "D(G(z))"}
    assert 0 < final["D(x)"] < 1 and 0 < final["D(G(z))"] < 1 and final["generator"] > 0
    for figure in ("samples_epoch001.png", "loss.png", "discriminator_outputs.png"):
        assert (run / figure).exists()
    assert Image.open(run / "samples_epoch001.png").size == (8 * 65 + 1, 8 * 65 + 1)  # 8×8 faces, 1 px apart

    # resume: the second epoch starts from the checkpoint of the first, both networks and optimisers
    first = torch.load(run / "checkpoint.pt", weights_only=True)
    train_dcgan.main([*args, "--resume", "--epochs", "2"])
    second = torch.load(run / "checkpoint.pt", weights_only=True)
    assert second["epoch"] == 2 and all(len(values) == 2 for values in second["history"].values())
    assert second["history"]["generator"][0] == first["history"]["generator"][0]
    assert second["optimizer_d"]["state"][0]["step"] == 2 * first["optimizer_d"]["state"][0]["step"]
    assert second["optimizer_g"]["state"][0]["step"] == 2 * first["optimizer_g"]["state"][0]["step"]
    assert (run / "samples_epoch002.png").exists()

    # and a resumed run matches an uninterrupted one, step for step
    straight = tmp_path / "straight"
    train_dcgan.main([*args, "--run-dir", str(straight), "--out-dir", str(tmp_path / "out2"), "--epochs", "2"])
    uninterrupted = torch.load(straight / "checkpoint.pt", weights_only=True)
    for name, tensor in uninterrupted["generator"].items():
        assert torch.allclose(tensor.float(), second["generator"][name].float(), atol=1e-6), name
