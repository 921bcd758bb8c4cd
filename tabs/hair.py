"""Hair colour tab: the CycleGAN turns black hair blond and blond hair black, and translates back."""

from __future__ import annotations

import gradio as gr
import torch
from PIL import Image

from models import cyclegan
from models.imaging import face_tensor, tensor_to_image
from models.loading import LoadedModel
from tabs.common import EVENT, choice, face_examples, image_file, image_upload, model_handler, require, user_errors

AUTOMATIC = "Automatic"
DIRECTIONS = {"Black → blond": "black_to_blond", "Blond → black": "blond_to_black", AUTOMATIC: None}
DISPLAY_SIZE = 256


class HairTab:
    def __init__(self, cyclegan_model: LoadedModel):
        self.cyclegan = cyclegan_model

    @user_errors
    def translate_hair(
        self, image: str | dict | None, direction: str = AUTOMATIC
    ) -> tuple[Image.Image, Image.Image, Image.Image, str]:
        """Turn black hair blond or blond hair black, and translate the result back.

        Args:
            image: a photo of a face; its central square is used, resized to the model's size (64×64).
            direction: "Black → blond", "Blond → black" or "Automatic" (chosen from the hair's colour).
        Returns:
            The face as the model sees it, the translated face, the round trip (translated back),
            each enlarged to 256×256 for display, and a line saying which direction was used.
        """
        generators = require(self.cyclegan)
        direction = choice(direction, "Direction", DIRECTIONS)
        face = face_tensor(image_file(image, "Face"), generators.image_size)[None]
        chosen = DIRECTIONS[direction]
        note = f"{direction}."
        if chosen is None:
            detected = cyclegan.choose_direction(face)[0]
            chosen, note = detected.direction, detected.message
        translated, back = cyclegan.round_trip(generators, face, chosen)
        return (*(self._show(image) for image in (face[0], translated[0], back[0])), note)

    @staticmethod
    def _show(image: torch.Tensor) -> Image.Image:
        return tensor_to_image(image).resize((DISPLAY_SIZE, DISPLAY_SIZE), Image.Resampling.LANCZOS)


def build(tab: HairTab) -> None:
    gr.Markdown(
        "A CycleGAN trained on CelebA faces with black and with blond hair, without pairs. "
        "Upload a portrait or use the webcam: the model sees the central square at 64×64, "
        "so a face filling most of the frame, with some hair above it, works best."
    )
    with gr.Row():
        with gr.Column():
            photo = image_upload("Face", sources=["upload", "webcam", "clipboard"], height=260, elem_id="hair-input")
            direction = gr.Radio(list(DIRECTIONS), value=AUTOMATIC, label="Direction")
            run = gr.Button("Translate", variant="primary", elem_id="hair-translate")
        seen = gr.Image(label="As the model sees it", format="png")
        translated = gr.Image(label="Translated", format="png", elem_id="hair-translated")
        round_trip = gr.Image(label="Round trip (translated back)", format="png", elem_id="hair-round-trip")
    face_examples(photo)
    note = gr.Markdown(elem_id="hair-note")
    run.click(
        model_handler(tab.translate_hair),
        [photo, direction],
        [seen, translated, round_trip, note],
        api_name="translate_hair",
        **EVENT,
    )
