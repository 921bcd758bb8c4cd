"""Face generation tab: the DCGAN's faces from a seed, walks between seeds, the face VAE's samples to compare, and
the conditional GAN's faces with or without glasses, by label."""

from __future__ import annotations

import itertools
import random
import tempfile
from pathlib import Path

import gradio as gr
from PIL import Image

from models import conditional_gan, dcgan, face_vae
from models.loading import LoadedModel
from tabs.common import (
    EVENT,
    MAX_FACES,
    MAX_SEED,
    choice,
    face_images,
    gallery,
    model_handler,
    number,
    require,
    user_errors,
    whole_number,
)

MAX_WALK_STEPS = 32
# The truncation range where every value gives faces (measured on the shipped DCGAN: README, "Face generation").
# Below about 0.6 faces fade into one brown average (at 0 every seed gives the same texture).
MIN_NOISE_SCALE, MAX_NOISE_SCALE = 0.6, 1.5
FACE_MODELS = ("DCGAN", "VAE")
KEPT_WALKS = 64  # animated walks kept on disk, by turns (Gradio copies each one as it answers)
GLASSES_LABELS = conditional_gan.LABELS  # "without glasses" (label 0), "with glasses" (label 1)
SWEEP_STEPS = 9
SLID_FACE_SIZE = 256  # the page enlarges the 64×64 face; its download stays at the model's size
# Gradio draws an image at its own size inside the box: the slid face fills it instead.
CSS = "#slid-face img { width: 100%; height: 100%; object-fit: contain; }"


class FacesTab:
    def __init__(self, generator: LoadedModel, vae: LoadedModel, conditional: LoadedModel | None = None):
        """`conditional`: the conditional GAN that draws faces with or without glasses, by label."""
        self.generator, self.vae, self.conditional = generator, vae, conditional
        self.walks = Path(tempfile.mkdtemp(prefix="face-walks-"))
        self.walk_count = itertools.count()

    def next_walk_path(self) -> Path:
        return self.walks / f"walk-{next(self.walk_count) % KEPT_WALKS}.gif"

    @user_errors
    def generate_faces(self, count: float, seed: float, noise_scale: float, model: str = "DCGAN") -> list[Image.Image]:
        """Generate faces from random noise.

        Args:
            count: how many faces, 1 to 64.
            seed: random seed, 0 to 2**31 - 1; each seed gives its own set of faces, the first being
                the seed's own face (the one a walk from that seed starts at).
            noise_scale: truncation, 0.6 to 1.5: below 1 smoother, more alike faces with less contrast;
                above 1 more varied faces with more artifacts (DCGAN only).
            model: "DCGAN" or "VAE" (samples from the glasses tab's face VAE, to compare).
        Returns:
            The faces at the model's native size (64×64).
        """
        count = whole_number(count, "Count", 1, MAX_FACES)
        seed = whole_number(seed, "Seed", 0, MAX_SEED)
        noise_scale = number(noise_scale, "Noise scale", MIN_NOISE_SCALE, MAX_NOISE_SCALE)
        if choice(model, "Model", FACE_MODELS) == "VAE":
            return face_images(face_vae.sample(require(self.vae).model, count, seed))
        return face_images(dcgan.generate(require(self.generator), count, seed, noise_scale))

    @user_errors
    def interpolate_faces(
        self, seed_a: float, seed_b: float, steps: float, noise_scale: float = 1.0
    ) -> tuple[list[Image.Image], str]:
        """Walk the DCGAN's noise space from one seed's face to another's (spherical interpolation).

        Args:
            seed_a: seed of the first face.
            seed_b: seed of the last face.
            steps: number of faces in the walk, 2 to 32.
            noise_scale: truncation, 0.6 to 1.5.
        Returns:
            The faces of the walk, and an animated GIF of it going there and back.
        """
        seed_a = whole_number(seed_a, "Seed A", 0, MAX_SEED)
        seed_b = whole_number(seed_b, "Seed B", 0, MAX_SEED)
        steps = whole_number(steps, "Steps", 2, MAX_WALK_STEPS)
        noise_scale = number(noise_scale, "Noise scale", MIN_NOISE_SCALE, MAX_NOISE_SCALE)
        frames = dcgan.interpolate_seeds(require(self.generator), seed_a, seed_b, steps, noise_scale)
        gif = dcgan.save_animated_gif(frames, self.next_walk_path(), frame_ms=120, scale=2)
        return face_images(frames), str(gif)

    @user_errors
    def conditional_faces(self, count: float, seed: float, glasses: str) -> list[Image.Image]:
        """Faces from the conditional GAN, all with or all without glasses.

        Args:
            count: how many faces, 1 to 64.
            seed: random seed, 0 to 2**31 - 1; the same seed gives the same people with and without glasses.
            glasses: "with glasses" or "without glasses".
        Returns:
            The faces at the model's native size (64×64).
        """
        count = whole_number(count, "Count", 1, MAX_FACES)
        seed = whole_number(seed, "Seed", 0, MAX_SEED)
        label = GLASSES_LABELS.index(choice(glasses, "Glasses", GLASSES_LABELS))
        return face_images(conditional_gan.generate(self._conditional(), count, seed, float(label)))

    @user_errors
    def slide_glasses(self, seed: float, glasses: float) -> tuple[Image.Image, list[Image.Image]]:
        """One face of the conditional GAN with its label anywhere between "without" (0) and "with glasses" (1).

        Args:
            seed: random seed; the face is the seed's first face in `/conditional_faces`.
            glasses: the label, 0 (without glasses) to 1 (with glasses); values between blend the two.
        Returns:
            The face at that label, and the face at 9 labels from 0 to 1 (all 64×64).
        """
        seed = whole_number(seed, "Seed", 0, MAX_SEED)
        glasses = number(glasses, "Glasses", 0, 1)
        generator = self._conditional()
        face = conditional_gan.generate(generator, 1, seed, glasses)
        return face_images(face)[0], face_images(conditional_gan.glasses_sweep(generator, seed, SWEEP_STEPS))

    def _conditional(self) -> conditional_gan.ConditionalGenerator:
        if self.conditional is None:
            raise gr.Error("This app was started without the conditional GAN.")
        return require(self.conditional)


def build(tab: FacesTab) -> None:
    gr.Markdown(
        "Faces drawn from random noise by a DCGAN trained on CelebA. Each seed gives its own set of faces. "
        "The noise scale is the truncation trick: 1 samples the noise as in training; lower values (down to "
        "0.6) give smoother, more alike faces with less contrast, higher ones (up to 1.5) more varied faces "
        "with more artifacts. Pick **VAE** to compare with the face VAE's samples."
    )
    with gr.Row():
        count = gr.Slider(1, MAX_FACES, value=16, step=1, label="Faces", elem_id="faces-count")
        seed = gr.Number(value=0, step=1, label="Seed", minimum=0, maximum=MAX_SEED)
        noise_scale = gr.Slider(
            MIN_NOISE_SCALE, MAX_NOISE_SCALE, value=1.0, step=0.05, label="Noise scale (truncation)"
        )
        model = gr.Radio(list(FACE_MODELS), value="DCGAN", label="Model")
    with gr.Row():
        new_seed = gr.Button("New seed")
        generate = gr.Button("Generate", variant="primary", elem_id="generate-faces")
    faces = gallery("Faces", elem_id="face-gallery")
    inputs = [count, seed, noise_scale, model]
    generate.click(model_handler(tab.generate_faces), inputs, faces, api_name="generate_faces", **EVENT)
    new_seed.click(lambda: random.randint(0, MAX_SEED), None, seed, api_visibility="private").then(
        model_handler(tab.generate_faces), inputs, faces, api_visibility="private", **EVENT
    )

    gr.Markdown("### Walk between two seeds")
    with gr.Row():
        seed_a = gr.Number(value=0, step=1, label="Seed A", minimum=0, maximum=MAX_SEED)
        seed_b = gr.Number(value=1, step=1, label="Seed B", minimum=0, maximum=MAX_SEED)
        steps = gr.Slider(2, MAX_WALK_STEPS, value=10, step=1, label="Steps")
        walk = gr.Button("Walk", elem_id="walk-faces")
    with gr.Row():
        strip = gallery("Walk", scale=4, elem_id="face-walk")
        animation = gr.Image(label="Animated", type="filepath", scale=1)
    walk.click(
        model_handler(tab.interpolate_faces),
        [seed_a, seed_b, steps, noise_scale],
        [strip, animation],
        api_name="interpolate_faces",
        **EVENT,
    )

    gr.Markdown(
        "### Conditional GAN: glasses by label\n"
        "A GAN that is told what to draw: its generator gets a label, **with** or **without glasses**, beside "
        "the noise, and its discriminator judges a face against its label. The label enters the generator "
        "after the face's layout is drawn (at 8×8 pixels), so the same seed gives the same person both ways. "
        "The label is a number, 0 (without) to 1 (with): slide it to blend the two."
    )
    with gr.Row():
        conditional_count = gr.Slider(1, MAX_FACES, value=8, step=1, label="Faces")
        conditional_seed = gr.Number(value=0, step=1, label="Seed", minimum=0, maximum=MAX_SEED)
        glasses = gr.Radio(list(GLASSES_LABELS), value=GLASSES_LABELS[1], label="Glasses", elem_id="conditional-label")
        conditional_generate = gr.Button("Generate", variant="primary", elem_id="conditional-generate")
    conditional_gallery = gallery("Conditional GAN", elem_id="conditional-gallery")
    conditional_inputs = [conditional_count, conditional_seed, glasses]
    conditional_generate.click(
        model_handler(tab.conditional_faces),
        conditional_inputs,
        conditional_gallery,
        api_name="conditional_faces",
        **EVENT,
    )
    glasses.change(
        model_handler(tab.conditional_faces), conditional_inputs, conditional_gallery, api_visibility="private", **EVENT
    )
    with gr.Row():
        slid_face = gr.Image(
            label="The seed's first face", format="png", height=SLID_FACE_SIZE, width=SLID_FACE_SIZE,
            elem_id="slid-face", scale=1,
        )  # fmt: skip
        amount = gr.Slider(0, 1, value=0.5, step=0.05, label="Glasses: 0 without, 1 with", scale=3)
    sweep = gallery("From without to with glasses", columns=SWEEP_STEPS, elem_id="glasses-sweep")
    slide = model_handler(tab.slide_glasses)
    amount.release(slide, [conditional_seed, amount], [slid_face, sweep], api_name="slide_glasses", **EVENT)
    conditional_generate.click(slide, [conditional_seed, amount], [slid_face, sweep], api_visibility="private", **EVENT)
