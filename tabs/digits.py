"""Digits tab: draw or upload a digit, see the autoencoder's and the VAE's reconstructions; VAE samples and walks."""

from __future__ import annotations

import gradio as gr
import torch
from PIL import Image
from torchvision.utils import make_grid

from models import digits
from models.imaging import tensor_to_image
from models.loading import LoadedModel
from models.registry import EXAMPLES
from tabs.common import (
    EVENT,
    MAX_SEED,
    MAX_STEPS,
    choice,
    gallery,
    image_file,
    image_upload,
    model_handler,
    require,
    sample_controls,
    user_errors,
    whole_number,
)

DISPLAY_SCALE = 8  # 28×28 → 224×224, nearest neighbour so pixels stay visible
MAX_SAMPLES = 64
TRAVERSED_COORDINATES = 5
TRAVERSAL_STEPS = 9
BETA_SAMPLES = 8
# Gradio's sketchpad starts, and restarts after "Clear canvas", with no tool selected, so strokes are ignored
# until the user finds the brush. This picks the brush for them (retrying while the canvas mounts).
SELECT_BRUSH_JS = """
() => {
    let tries = 0;
    const pick = () => {
        const brush = document.querySelector('#digit-sketch button[aria-label="Brush"]');
        if (brush && !brush.classList.contains('highlight')) brush.click();
        else if (!brush && tries++ < 50) setTimeout(pick, 100);
    };
    setTimeout(pick, 50);
}
"""
CSS = (
    "#digit-input img, #digit-ae img, #digit-vae img, #digit-samples img, #digit-strip img, #beta-input img, "
    "#beta-reconstructions img, #beta-samples img, #beta-reconstruction img, #beta-traversal img "
    "{ image-rendering: pixelated; }"
    # Strips of digits fill the gallery's width at their own aspect ratio, not in square thumbnails.
    "#beta-samples .thumbnail-item, #beta-traversal .thumbnail-item { aspect-ratio: auto; height: auto; }"
    "#beta-samples .thumbnail-item img, #beta-traversal .thumbnail-item img { height: auto; }"
)


class DigitsTab:
    """Handlers of the digits tab; each public method is one API endpoint."""

    def __init__(self, autoencoder: LoadedModel, vae: LoadedModel, beta_vaes: dict[float, LoadedModel] | None = None):
        """`beta_vaes`: the VAE at each weight of the KL term it was trained with, by β (the VAE is β = 1)."""
        self.autoencoder, self.vae = autoencoder, vae
        self.beta_vaes = dict(sorted((beta_vaes or {1.0: vae}).items()))

    @user_errors
    def reconstruct_digit(self, image: str | dict | None) -> tuple[Image.Image, Image.Image, Image.Image, str]:
        """Reconstruct one digit with the autoencoder and with the VAE.

        Args:
            image: an image of one digit (dark on light or light on dark, any size).
        Returns:
            The MNIST-style 28×28 input, the autoencoder's and the VAE's reconstructions
            (upscaled 8× with nearest neighbours), and the mean squared error of each.
        """
        digit = digits.preprocess_digit(image_file(image, "Upload a digit"))
        return self._reconstruct(digit)

    @user_errors
    def reconstruct_drawing(self, sketch: dict | None) -> tuple[Image.Image, Image.Image, Image.Image, str]:
        composite = sketch.get("composite") if isinstance(sketch, dict) else None
        if composite is None:
            raise gr.Error("The drawing is empty: draw a digit first.")
        return self._reconstruct(digits.preprocess_digit(image_file(composite, "Draw a digit")))

    def _reconstruct(self, digit: torch.Tensor) -> tuple[Image.Image, Image.Image, Image.Image, str]:
        ae_image = digits.reconstruct(require(self.autoencoder), digit[None])[0]
        vae_image = digits.reconstruct(require(self.vae), digit[None])[0]
        errors = (
            f"Mean squared error per pixel — autoencoder: **{digits.mean_squared_error(ae_image, digit):.4f}**, "
            f"VAE: **{digits.mean_squared_error(vae_image, digit):.4f}**"
        )
        return self._show(digit), self._show(ae_image), self._show(vae_image), errors

    @user_errors
    def sample_digits(self, count: float, seed: float) -> list[Image.Image]:
        """Draw new digits from the VAE's prior.

        Args:
            count: how many digits, 1 to 64.
            seed: random seed, 0 to 2**31 - 1; the same seed gives the same digits.
        Returns:
            The digits, upscaled 4×.
        """
        count = whole_number(count, "Count", 1, MAX_SAMPLES)
        seed = whole_number(seed, "Seed", 0, MAX_SEED)
        return [self._show(image, scale=4) for image in digits.sample(require(self.vae), count, seed)]

    @user_errors
    def interpolate_digits(self, start: str | dict | None, end: str | dict | None, steps: float) -> list[Image.Image]:
        """Walk the VAE's latent space in a straight line from one digit to another.

        Args:
            start: image of the first digit.
            end: image of the last digit.
            steps: number of images in the strip, 2 to 16, both ends included.
        Returns:
            The decoded digits from start to end, upscaled 4×.
        """
        steps = whole_number(steps, "Steps", 2, MAX_STEPS)
        first = digits.preprocess_digit(image_file(start, "From"))
        last = digits.preprocess_digit(image_file(end, "To"))
        images = digits.interpolate(require(self.vae), first, last, steps)
        return [self._show(image, scale=4) for image in images]

    @user_errors
    def beta_vae(
        self, image: str | dict | None, beta: str | float
    ) -> tuple[Image.Image, list[tuple[Image.Image, str]]]:
        """Reconstruct a digit with the VAE trained at one β, and traverse its latent code.

        Args:
            image: an image of one digit.
            beta: the weight of the KL term the VAE was trained with: "0.5", "1" or "4".
        Returns:
            The reconstruction (upscaled 8×), and one strip per latent coordinate the digit's code uses most
            (largest KL first): the digit decoded with that coordinate swept from -3 to +3, the rest kept.
        """
        model = require(self.beta_vaes[self._beta(beta)])
        digit = digits.preprocess_digit(image_file(image, "Digit for the β-VAEs"))
        coordinates, kls, strips = digits.latent_traversal(model, digit, TRAVERSED_COORDINATES, TRAVERSAL_STEPS)
        traversal = [
            (self._strip(strip), f"z{coordinate}: KL {kl:.2f} nats, swept from -3 to +3")
            for coordinate, kl, strip in zip(coordinates, kls, strips)
        ]
        return self._show(digits.reconstruct(model, digit[None])[0]), traversal

    @user_errors
    def compare_betas(
        self, image: str | dict | None, seed: float
    ) -> tuple[list[tuple[Image.Image, str]], list[tuple[Image.Image, str]]]:
        """The same digit and the same prior samples under each β-VAE, side by side.

        Args:
            image: an image of one digit.
            seed: random seed of the samples, 0 to 2**31 - 1; every β decodes the same latents.
        Returns:
            Each β's reconstruction (upscaled 8×) captioned with its error and the KL of the digit's code,
            and each β's strip of 8 samples (upscaled 4×).
        """
        digit = digits.preprocess_digit(image_file(image, "Digit for the β-VAEs"))
        seed = whole_number(seed, "Seed", 0, MAX_SEED)
        reconstructions, samples = [], []
        for beta, loaded in self.beta_vaes.items():
            model = require(loaded)
            reconstruction = digits.reconstruct(model, digit[None])[0]
            error = digits.mean_squared_error(reconstruction, digit)
            kl = float(digits.digit_kl(model, digit[None])[0])
            reconstructions.append((self._show(reconstruction), f"β = {beta:g}: error {error:.4f}, KL {kl:.1f} nats"))
            samples.append((self._strip(digits.sample(model, BETA_SAMPLES, seed)), f"β = {beta:g}"))
        return reconstructions, samples

    def beta_choices(self) -> list[str]:
        return [f"{beta:g}" for beta in self.beta_vaes]

    def _beta(self, value: str | float) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = f"{value:g}"
        return float(choice(value, "β", self.beta_choices()))

    @staticmethod
    def _strip(images: torch.Tensor) -> Image.Image:
        """(N, 1, 28, 28) digits side by side, upscaled 4×."""
        return tensor_to_image(make_grid(images, nrow=len(images), padding=0)[:1], scale=4)

    @staticmethod
    def _show(image: torch.Tensor, scale: int = DISPLAY_SCALE) -> Image.Image:
        return tensor_to_image(image, scale=scale)


def build(tab: DigitsTab) -> None:
    example_files = sorted(EXAMPLES.glob("digit_*.png"))
    gr.Markdown(
        "Draw a digit with the mouse (or a finger) or upload a picture of one. "
        "It is prepared the way MNIST was (cropped to the ink, fitted into 20×20, centred by centre of mass "
        "in 28×28), then encoded to a 20-number latent and decoded by both models."
    )
    with gr.Row():
        with gr.Column():
            with gr.Tab("Draw"):
                sketch = gr.Sketchpad(
                    label="Draw a digit",
                    type="numpy",
                    image_mode="RGBA",
                    canvas_size=(280, 280),
                    brush=gr.Brush(default_size=14, colors=["#000000"], color_mode="fixed"),
                    layers=False,
                    transforms=(),
                    format="png",
                    elem_id="digit-sketch",
                )
                draw_button = gr.Button("Reconstruct drawing", variant="primary", elem_id="reconstruct-drawing")
            with gr.Tab("Upload"):
                upload = image_upload("Upload a digit", elem_id="digit-upload")
                upload_button = gr.Button("Reconstruct upload", variant="primary", elem_id="reconstruct-upload")
                if example_files:
                    gr.Examples([[str(path)] for path in example_files], inputs=upload, label="Digits drawn by the VAE")
        with gr.Column():
            with gr.Row():
                prepared = gr.Image(label="Input, 28×28", format="png", elem_id="digit-input", buttons=["download"])
                ae_output = gr.Image(label="Autoencoder", format="png", elem_id="digit-ae", buttons=["download"])
                vae_output = gr.Image(label="VAE", format="png", elem_id="digit-vae", buttons=["download"])
            errors = gr.Markdown(elem_id="digit-errors")
    outputs = [prepared, ae_output, vae_output, errors]
    upload_button_event = upload_button.click(
        model_handler(tab.reconstruct_digit), upload, outputs, api_name="reconstruct_digit", **EVENT
    )
    draw_button_event = draw_button.click(
        model_handler(tab.reconstruct_drawing), sketch, outputs, api_visibility="private", **EVENT
    )
    gr.on(None, None, js=SELECT_BRUSH_JS)  # on page load
    sketch.clear(None, js=SELECT_BRUSH_JS)

    gr.Markdown("### Sample new digits from the VAE")
    count, seed, sample_button = sample_controls("Count", MAX_SAMPLES, 16, "sample-digits")
    samples = gallery("Samples", elem_id="digit-samples")
    sample_button.click(model_handler(tab.sample_digits), [count, seed], samples, api_name="sample_digits", **EVENT)

    gr.Markdown("### Interpolate between two digits in the VAE's latent space")
    with gr.Row():
        start = image_upload("From", height=160)
        end = image_upload("To", height=160)
        with gr.Column():
            steps = gr.Slider(2, MAX_STEPS, value=8, step=1, label="Steps")
            interpolate_button = gr.Button("Interpolate", elem_id="interpolate-digits")
    if len(example_files) >= 2:
        gr.Examples([[str(example_files[0]), str(example_files[-1])]], inputs=[start, end])
    strip = gallery("Strip", elem_id="digit-strip")
    interpolate_button.click(
        model_handler(tab.interpolate_digits), [start, end, steps], strip, api_name="interpolate_digits", **EVENT
    )

    gr.Markdown(
        "### β-VAE: what the weight of the KL term trades\n"
        "The VAE above learned to reconstruct digits while keeping its code close to the prior N(0, I): its loss "
        "is the reconstruction error plus the KL divergence of the code from the prior. A β-VAE weighs that KL "
        f"term by β. These were trained alike at β = {', '.join(tab.beta_choices())}. A large β squeezes the "
        "code: fewer latent coordinates in use, blurrier reconstructions, samples that look more like digits. "
        "A small β lets the code hold more: sharper reconstructions, samples that look less like digits. "
        "The traversal decodes your digit's code with one coordinate swept from -3 to +3, for the coordinates "
        "the code uses most (largest KL): what each one controls."
    )
    with gr.Row():
        with gr.Column(scale=1):
            beta_input = image_upload("Digit for the β-VAEs", height=224, elem_id="beta-input")
            if example_files:
                gr.Examples([[str(path)] for path in example_files], inputs=beta_input)
            beta_seed = gr.Number(value=0, step=1, label="Seed of the samples", minimum=0, maximum=MAX_SEED)
            compare_button = gr.Button("Compare β", variant="primary", elem_id="compare-betas")
        with gr.Column(scale=2):
            beta_reconstructions = gallery("Reconstruction under each β", columns=3, elem_id="beta-reconstructions")
            beta_samples = gallery("The same 8 latents from the prior, decoded under each β", columns=1,
                                   elem_id="beta-samples")  # fmt: skip
    with gr.Row():
        with gr.Column(scale=1):
            beta = gr.Radio(
                tab.beta_choices(), value=tab.beta_choices()[-1], label="β to traverse", elem_id="beta-traverse"
            )
            beta_reconstruction = gr.Image(
                label="Reconstruction", format="png", height=224, elem_id="beta-reconstruction", buttons=["download"]
            )
        with gr.Column(scale=3):
            traversal = gallery("Latent traversal, one coordinate per row", columns=1, elem_id="beta-traversal")
    compare_button.click(
        model_handler(tab.compare_betas),
        [beta_input, beta_seed],
        [beta_reconstructions, beta_samples],
        api_name="compare_betas",
        **EVENT,
    )
    traverse = model_handler(tab.beta_vae)
    compare_button.click(traverse, [beta_input, beta], [beta_reconstruction, traversal], api_name="beta_vae", **EVENT)
    beta.change(traverse, [beta_input, beta], [beta_reconstruction, traversal], api_visibility="private", **EVENT)
    # The digit reconstructed at the top of the tab is the β section's digit too, ready to compare.
    for reconstructed in (upload_button_event, draw_button_event):
        reconstructed.success(lambda image: image, prepared, beta_input, api_visibility="private")
