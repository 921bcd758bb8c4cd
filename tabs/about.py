"""About tab: every model, where its weights came from, and its model card."""

from __future__ import annotations

import gradio as gr
import torch

from models.loading import LoadedModel
from tabs.common import EVENT, choice


def weights_origin(loaded: LoadedModel) -> str:
    """Where a model's weights came from, in a few words (Markdown)."""
    if loaded.origin == "shipped":
        return f"shipped with the app, `{loaded.spec.shipped_label}`"
    if loaded.available:
        cache = " (from the local cache)" if loaded.origin == "hub-cache" else ""
        return f"Hub repo `{loaded.spec.repo_id}` at commit `{loaded.revision}`{cache}"
    return "unavailable"


def models_overview(models: dict[str, LoadedModel]) -> str:
    """A Markdown table: each model, its source, and what the loader said."""
    rows = [f"| {name} | {weights_origin(loaded)} | {loaded.message} |" for name, loaded in models.items()]
    return "\n".join(["| model | weights | details |", "| --- | --- | --- |", *rows])


class AboutTab:
    def __init__(self, models: dict[str, LoadedModel]):
        self.models = models

    def model_card(self, name: str) -> str:
        """A model's card (architecture, data and its terms, training command, metrics) and its source.

        Args:
            name: a model's name, as in /model_status (e.g. "digits-vae").
        Returns:
            Markdown: where the weights came from, then the card read from the loaded folder.
        """
        loaded = self.models[choice(name, "Model", self.models)]
        header = f"**Weights:** {weights_origin(loaded)}.  \n**Loader:** {loaded.message}"
        if not loaded.available:
            return f"{header}\n\nThis model is not loaded, so there is no card to show."
        return f"{header}\n\n{loaded.card or 'This model folder has no model card (README.md).'}"


def build(tab: AboutTab) -> gr.Markdown:
    """The tab; returns the overview table, which the app refreshes once the background models have loaded."""
    gr.Markdown(
        "Every model of the suite, where its weights came from, and its model card, read from the folder "
        f"it was loaded from. PyTorch {torch.__version__} and Gradio {gr.__version__}, "
        f"{torch.get_num_threads()} CPU threads."
    )
    overview = gr.Markdown(models_overview(tab.models), elem_id="about-overview")
    names = list(tab.models)
    chosen = gr.Dropdown(names, value=names[0], label="Model card", elem_id="about-choice")
    card = gr.Markdown(tab.model_card(names[0]), elem_id="about-card")
    chosen.change(tab.model_card, chosen, card, api_name="model_card", **EVENT)
    return overview
