"""Digits tab: draw or upload a digit, see the autoencoder's and the VAE's reconstructions; VAE samples and walks."""

from __future__ import annotations

import gradio as gr
import torch
from PIL import Image

from models import digits
from models.imaging import tensor_to_image
from models.loading import LoadedModel
from models.registry import EXAMPLES
from tabs.common import (
    EVENT,
    MAX_SEED,
    MAX_STEPS,
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
CSS = "#digit-input img, #digit-ae img, #digit-vae img, #digit-samples img { image-rendering: pixelated; }"


class DigitsTab:
    """Handlers of the digits tab; each public method is one API endpoint."""

    def __init__(self, autoencoder: LoadedModel, vae: LoadedModel):
        self.autoencoder, self.vae = autoencoder, vae

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
    upload_button.click(model_handler(tab.reconstruct_digit), upload, outputs, api_name="reconstruct_digit", **EVENT)
    draw_button.click(model_handler(tab.reconstruct_drawing), sketch, outputs, api_visibility="private", **EVENT)
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
