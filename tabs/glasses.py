"""Glasses arithmetic tab: the face VAE's latent space, as in the book (group means added and subtracted)."""

from __future__ import annotations

import random

import gradio as gr
import torch
import torch.nn.functional as F
from PIL import Image

from models import attributes, face_vae
from models.imaging import face_tensor, tensor_to_image
from models.loading import LoadedModel
from tabs.common import (
    EVENT,
    MAX_FACES,
    MAX_SEED,
    MAX_STEPS,
    choice,
    face_examples,
    face_images,
    gallery,
    image_file,
    image_upload,
    model_handler,
    number,
    require,
    sample_controls,
    user_errors,
    whole_number,
)

CUSTOM = "Custom weights (below)"
# The answers are the point of the tab: shown at least as large as the decoded inputs (the images stay at the
# model's 64×64, so downloads are native size; the page scales them up smoothly).
RESULT_SIZE = 288
CSS = "#glasses-result img, #glasses-seen img, #glasses-edited img { width: 100%; height: 100%; object-fit: contain; }"
GROUP_LABELS = {
    "men_with_glasses": "Men with glasses",
    "men_without_glasses": "Men without glasses",
    "women_with_glasses": "Women with glasses",
    "women_without_glasses": "Women without glasses",
}


class GlassesTab:
    def __init__(self, vae: LoadedModel, classifier: LoadedModel):
        self.vae, self.classifier = vae, classifier

    @user_errors
    def glasses_arithmetic(self, preset: str, *weights_and_faces) -> tuple[Image.Image, list]:
        """Decode a weighted sum of the four group means (or of your own faces standing in for them).

        Args:
            preset: a preset's name, or "Custom weights (below)" to use the four weights.
            weights_and_faces: the weights of men with glasses, men without, women with glasses,
                women without (each -2 to 2), then optionally one face image per group, in the same
                order, to use instead of that group's mean.
        Returns:
            The result, and the decoded inputs that went into it (with their weights).
        """
        bundle = require(self.vae)
        weights = weights_and_faces[:4] if len(weights_and_faces) >= 4 else (0,) * 4
        faces = list(weights_and_faces[4:8]) + [None] * (4 - len(weights_and_faces[4:8]))
        if choice(preset, "Preset", [*face_vae.PRESETS, CUSTOM]) == CUSTOM:
            chosen = {
                group: number(weight, GROUP_LABELS[group], -2, 2)
                for group, weight in zip(face_vae.GROUPS, weights, strict=True)
            }
        else:
            chosen = face_vae.PRESETS[preset]
        vectors = dict(bundle.vectors)
        for group, face in zip(face_vae.GROUPS, faces, strict=True):
            path = image_file(face, f"{GROUP_LABELS[group]} (optional)", required=False)
            if path is not None:
                stand_in = face_tensor(path, bundle.model.image_size)[None]
                vectors[group] = face_vae.encode_faces(bundle.model, stand_in)[0]
        if not any(chosen.values()):
            raise gr.Error("All weights are zero: give at least one group a weight.")
        result = face_vae.arithmetic(bundle.model, vectors, chosen)[0]
        used = [group for group, weight in chosen.items() if weight]
        inputs = face_vae.decode_latents(bundle.model, torch.stack([vectors[group] for group in used]))
        captions = [f"{chosen[group]:+g} × {GROUP_LABELS[group]}" for group in used]
        return tensor_to_image(result), list(zip(face_images(inputs), captions))

    @user_errors
    def edit_glasses(self, image: str | dict | None, strength: float) -> tuple[Image.Image, Image.Image]:
        """Add (strength > 0) or remove (strength < 0) glasses on a face, along the glasses direction.

        Args:
            image: a photo of a face; its central square is used, resized to 64×64.
            strength: -3 to 3; 1 adds the average difference between faces with and without glasses.
        Returns:
            The face as the model sees it (its reconstruction), and the edited face.
        """
        before, after = self._edit(image, strength)
        return tensor_to_image(before), tensor_to_image(after)

    def _edit(self, image: str | dict | None, strength: float) -> tuple[torch.Tensor, torch.Tensor]:
        bundle = require(self.vae)
        strength = number(strength, "Strength", -3, 3)
        face = face_tensor(image_file(image, "Face photo"), bundle.model.image_size)
        before = face_vae.reconstruct(bundle.model, face[None])[0]
        after = face_vae.edit_glasses(bundle.model, bundle.vectors, face, strength)[0]
        return before, after

    @user_errors
    def describe_edit(self, image: str | dict | None, strength: float) -> str:
        """What the suite's attribute classifier reads before and after an edit; a warning when it changed
        more than glasses (the sex it reads flipped). Empty without the classifier."""
        if not self.classifier.available:
            return ""
        before, after = self._edit(image, strength)
        classifier = self.classifier.model
        faces = torch.stack([before, after])
        if faces.shape[-1] != classifier.image_size:
            faces = F.interpolate(faces, size=classifier.image_size, mode="bilinear", antialias=True)
        readings = attributes.predict(classifier, faces)
        glasses, male = readings["eyeglasses"], readings["male"]
        sex = ["a man" if probability >= classifier.thresholds["male"] else "a woman" for probability in male]
        note = (
            f"The attribute classifier reads glasses on the face as the model sees it at {glasses[0]:.0%}, "
            f"on the edited face at {glasses[1]:.0%}; it reads {sex[0]}, then {sex[1]}."
        )
        if sex[0] != sex[1]:
            note += " **The edit changed more than glasses**: try a smaller strength."
        return note

    @user_errors
    def interpolate_vae(self, image_a: str | dict | None, image_b: str | dict | None, steps: float) -> list:
        """Blend two faces in the face VAE's latent space.

        Args:
            image_a: the first face (a photo).
            image_b: the last face (a photo).
            steps: number of faces, 2 to 16, both ends included.
        Returns:
            The blended faces from the first to the last.
        """
        bundle = require(self.vae)
        steps = whole_number(steps, "Steps", 2, MAX_STEPS)
        size = bundle.model.image_size
        first = face_tensor(image_file(image_a, "First face"), size)
        last = face_tensor(image_file(image_b, "Last face"), size)
        return face_images(face_vae.interpolate(bundle.model, first, last, steps))

    def random_pair(self) -> list[Image.Image]:
        """Two faces sampled from the VAE, to interpolate between (upscaled so they look like photos)."""
        faces = face_vae.sample(require(self.vae).model, 2, random.randint(0, MAX_SEED))
        return [tensor_to_image(face).resize((256, 256), Image.Resampling.LANCZOS) for face in faces]

    @user_errors
    def sample_vae_faces(self, count: float, seed: float) -> list[Image.Image]:
        """Random faces from the face VAE's prior.

        Args:
            count: how many faces, 1 to 64.
            seed: random seed, 0 to 2**31 - 1.
        Returns:
            The faces at 64×64.
        """
        count = whole_number(count, "Count", 1, MAX_FACES)
        seed = whole_number(seed, "Seed", 0, MAX_SEED)
        return face_images(face_vae.sample(require(self.vae).model, count, seed))


def build(tab: GlassesTab) -> None:
    gr.Markdown(
        "A VAE trained on CelebA faces has a continuous latent space where directions mean something. "
        "Average the codes of four groups of faces, add and subtract them, and decode: "
        "*man with glasses − man without + woman without* gives a woman with glasses. "
        "Photos work best as portraits: the model sees the central square of the photo at 64×64, "
        "a face filling most of it, eyes about halfway up."
    )
    with gr.Row():
        preset = gr.Dropdown([*face_vae.PRESETS, CUSTOM], value=next(iter(face_vae.PRESETS)), label="Preset")
        run = gr.Button("Compute", variant="primary", elem_id="glasses-compute")
    with gr.Accordion("Custom weights, and your own faces standing in for a group", open=False):
        with gr.Row():
            weights = [gr.Slider(-2, 2, value=0, step=0.1, label=label) for label in GROUP_LABELS.values()]
        with gr.Row():
            stand_ins = [image_upload(f"{label} (optional)", height=140) for label in GROUP_LABELS.values()]
    with gr.Row(equal_height=True):
        inputs_gallery = gallery("Inputs (decoded)", columns=3, scale=2)
        result = gr.Image(
            label="Result", format="png", elem_id="glasses-result", height=RESULT_SIZE, width=RESULT_SIZE, scale=1
        )
    run.click(
        model_handler(tab.glasses_arithmetic),
        [preset, *weights, *stand_ins],
        [result, inputs_gallery],
        api_name="glasses_arithmetic",
        **EVENT,
    )

    gr.Markdown("### Add or remove glasses on your own photo")
    with gr.Row():
        photo = image_upload(
            "Face photo", sources=["upload", "webcam", "clipboard"], height=220, elem_id="glasses-photo"
        )
        with gr.Column():
            strength = gr.Slider(-3, 3, value=1.5, step=0.1, label="Strength (negative removes glasses)")
            edit = gr.Button("Edit", elem_id="glasses-edit")
        before = gr.Image(
            label="As the model sees it", format="png", elem_id="glasses-seen", height=RESULT_SIZE, width=RESULT_SIZE
        )
        after = gr.Image(label="Edited", format="png", elem_id="glasses-edited", height=RESULT_SIZE, width=RESULT_SIZE)
    face_examples(photo)
    edit_note = gr.Markdown(elem_id="glasses-edit-note")
    edit.click(
        model_handler(tab.edit_glasses), [photo, strength], [before, after], api_name="edit_glasses", **EVENT
    ).success(model_handler(tab.describe_edit), [photo, strength], edit_note, api_visibility="private", **EVENT)

    gr.Markdown("### Interpolate between two faces")
    with gr.Row():
        face_a = image_upload("First face", height=160, elem_id="glasses-face-a")
        face_b = image_upload("Last face", height=160, elem_id="glasses-face-b")
        with gr.Column():
            blend_steps = gr.Slider(2, MAX_STEPS, value=8, step=1, label="Steps")
            random_pair = gr.Button("Two random faces", elem_id="glasses-random-pair")
            blend = gr.Button("Interpolate", elem_id="glasses-interpolate")
    blend_strip = gallery("Blend", elem_id="glasses-blend")
    blend.click(
        model_handler(tab.interpolate_vae),
        [face_a, face_b, blend_steps],
        blend_strip,
        api_name="interpolate_vae",
        **EVENT,
    )
    random_pair.click(model_handler(tab.random_pair), None, [face_a, face_b], api_visibility="private")

    gr.Markdown("### Random faces from the VAE")
    sample_count, sample_seed, sample = sample_controls("Faces", MAX_FACES, 8, "glasses-sample")
    samples = gallery("Samples", elem_id="glasses-samples")
    sample.click(
        model_handler(tab.sample_vae_faces),
        [sample_count, sample_seed],
        samples,
        api_name="sample_vae_faces",
        **EVENT,
    )
