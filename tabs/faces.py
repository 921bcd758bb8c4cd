"""Face generation tab: the DCGAN's faces from a seed, walks between seeds, and the face VAE's samples to compare."""

from __future__ import annotations

import itertools
import random
import tempfile
from pathlib import Path

import gradio as gr
from PIL import Image

from models import dcgan, face_vae
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


class FacesTab:
    def __init__(self, generator: LoadedModel, vae: LoadedModel):
        self.generator, self.vae = generator, vae
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
