import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from models.digits import (
    VAE,
    Autoencoder,
    autoencoder_loss,
    coordinate_kl,
    digit_kl,
    interpolate,
    latent_traversal,
    preprocess_digit,
    reconstruct,
    sample,
    vae_loss,
)
from models.imaging import ImageInputError
from training.mnist import draw_digit


@pytest.fixture(params=[Autoencoder, VAE])
def model(request):
    torch.manual_seed(0)
    return request.param().eval()


def test_shapes(model):
    images = torch.rand(5, 1, 28, 28)
    assert model.encode(images).shape == (5, 20)
    assert model.decode(torch.randn(5, 20)).shape == (5, 1, 28, 28)
    assert reconstruct(model, images).shape == (5, 1, 28, 28)
    output = reconstruct(model, images)
    assert 0 <= output.min() and output.max() <= 1


def test_vae_forward_returns_reconstruction_and_posterior():
    reconstruction, mu, logvar = VAE()(torch.rand(3, 1, 28, 28))
    assert reconstruction.shape == (3, 1, 28, 28) and mu.shape == logvar.shape == (3, 20)


def test_losses():
    images = torch.rand(4, 1, 28, 28)
    assert autoencoder_loss(images, images) == 0
    assert autoencoder_loss(torch.zeros_like(images), images) > 0
    zeros = torch.zeros(4, 20)
    loss, reconstruction, kl = vae_loss(images, images, zeros, zeros)
    assert kl == 0  # the posterior equals the prior
    assert loss == reconstruction > 0  # BCE of gray targets is positive even for a perfect reconstruction
    loss, reconstruction, kl_shifted = vae_loss(images, images, torch.ones(4, 20), zeros)
    assert kl_shifted == pytest.approx(10.0)  # 0.5 * sum(mu^2) = 0.5 * 20
    loss_beta4, _, _ = vae_loss(images, images, torch.ones(4, 20), zeros, beta=4.0)
    assert loss_beta4 == pytest.approx(reconstruction + 4 * 10.0)  # a β-VAE weighs the KL term by β


def test_coordinate_kl_sums_to_the_kl_and_is_zero_at_the_prior():
    mu, logvar = torch.randn(3, 20), torch.randn(3, 20)
    assert torch.allclose(
        coordinate_kl(mu, logvar).sum(1).mean(), vae_loss(*[torch.rand(3, 1, 28, 28)] * 2, mu, logvar)[2]
    )
    assert torch.all(coordinate_kl(torch.zeros(1, 20), torch.zeros(1, 20)) == 0)
    assert digit_kl(VAE().eval(), torch.rand(2, 1, 28, 28)).shape == (2,)


def test_latent_traversal_sweeps_the_most_used_coordinates():
    torch.manual_seed(0)
    vae = VAE().eval()
    digit = preprocess_digit(draw_digit("zero"))
    coordinates, kls, strips = latent_traversal(vae, digit, coordinates=3, steps=5)
    assert strips.shape == (3, 5, 1, 28, 28) and len(coordinates) == len(set(coordinates)) == 3
    assert kls == sorted(kls, reverse=True)
    with torch.no_grad():
        mu, logvar = vae.encode_distribution(digit[None])
    assert kls[0] == pytest.approx(float(coordinate_kl(mu, logvar).max()))
    # each strip is the digit's code with one coordinate set to -3 ... +3: its ends differ, its middle is mu's
    latent = mu.clone()
    latent[0, coordinates[0]] = 0.0
    assert torch.allclose(strips[0, 2], vae.decode(latent)[0], atol=1e-6)
    assert not torch.allclose(strips[0, 0], strips[0, -1])


def test_the_beta_is_kept_in_the_config(tmp_path):
    VAE(beta=4.0).save_pretrained(tmp_path)
    assert VAE.from_pretrained(tmp_path).beta == 4.0


def test_sample_is_seeded_and_interpolation_hits_the_ends():
    vae = VAE().eval()
    assert torch.equal(sample(vae, 4, seed=3), sample(vae, 4, seed=3))
    assert not torch.equal(sample(vae, 4, seed=3), sample(vae, 4, seed=4))
    start, end = torch.rand(1, 28, 28), torch.rand(1, 28, 28)
    strip = interpolate(vae, start, end, steps=5)
    assert strip.shape == (5, 1, 28, 28)
    assert torch.allclose(strip[0], reconstruct(vae, start[None])[0], atol=1e-5)
    assert torch.allclose(strip[-1], reconstruct(vae, end[None])[0], atol=1e-5)


def test_save_and_load_round_trip(model, tmp_path):
    model.save_pretrained(tmp_path)
    assert {"config.json", "model.safetensors"} <= {path.name for path in tmp_path.iterdir()}
    loaded = type(model).from_pretrained(tmp_path)
    images = torch.rand(2, 1, 28, 28)
    assert torch.equal(reconstruct(model, images), reconstruct(loaded, images))


def test_loading_is_strict(model, tmp_path):
    model.save_pretrained(tmp_path)
    state = {key: value for key, value in model.state_dict().items() if not key.startswith("decoder")}
    save_file(state, tmp_path / "model.safetensors")  # a checkpoint with keys missing
    with pytest.raises(RuntimeError, match="[Mm]issing"):
        type(model).from_pretrained(tmp_path)


def test_pickled_weights_are_refused(tmp_path):
    from models.hub import StrictHubMixin

    with pytest.raises(OSError, match="never from pickled"):
        StrictHubMixin._load_as_pickle(Autoencoder(), str(tmp_path / "pytorch_model.bin"), "cpu", False)


# --- preprocessing --------------------------------------------------------------------------


def assert_mnist_like(digit: torch.Tensor):
    assert digit.shape == (1, 28, 28)
    assert digit.max() == pytest.approx(1.0, abs=0.05) and digit.min() >= 0
    rows, cols = torch.nonzero(digit[0] > 0.1, as_tuple=True)
    assert rows.max() - rows.min() + 1 <= 21 and cols.max() - cols.min() + 1 <= 21  # fits 20×20
    mass = digit[0] / digit[0].sum()
    grid = torch.arange(28, dtype=torch.float32)
    assert (mass.sum(1) * grid).sum() == pytest.approx(13.5, abs=1.0)  # centre of mass in the middle
    assert (mass.sum(0) * grid).sum() == pytest.approx(13.5, abs=1.0)
    # the border is empty: ink on black, like MNIST
    assert digit[0, 0].max() == 0 and digit[0, -1].max() == 0


def test_dark_on_light_and_light_on_dark_agree():
    dark = preprocess_digit(draw_digit("zero", ink=0, paper=255))
    light = preprocess_digit(draw_digit("zero", ink=255, paper=0))
    assert_mnist_like(dark)
    assert torch.allclose(dark, light, atol=1e-4)


def test_alpha_drawing_any_colour_and_canvas_size():
    drawing = draw_digit("one", size=500)
    rgba = Image.new("RGBA", drawing.size, (0, 0, 0, 0))
    rgba.putalpha(Image.eval(drawing, lambda value: 255 - value))  # opaque strokes on transparency
    digit = preprocess_digit(np.asarray(rgba))
    assert_mnist_like(digit)
    assert torch.allclose(digit, preprocess_digit(draw_digit("one", size=500)), atol=0.05)


def test_off_centre_digit_is_centred():
    image = Image.new("L", (300, 100), 255)
    image.paste(draw_digit("zero", size=60), (220, 20))
    assert_mnist_like(preprocess_digit(image))


@pytest.mark.parametrize(
    "blank",
    [
        Image.new("L", (280, 280), 255),
        Image.new("RGBA", (280, 280), (0, 0, 0, 0)),
        np.zeros((280, 280, 4), dtype=np.uint8),
    ],
)
def test_empty_drawing_is_reported(blank):
    with pytest.raises(ImageInputError, match="empty"):
        preprocess_digit(blank)
