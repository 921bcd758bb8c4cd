"""Text completion tab: GPT-2 from the Hub, or the small GPT-2 or the LSTM trained here, streaming as it writes."""

from __future__ import annotations

import threading
from typing import Any

import gradio as gr

from models import text
from models.loading import LoadedModel
from tabs.common import EVENT, choice, model_handler, number, wait_until_loaded, whole_number

MAX_PROMPT_CHARACTERS = 20_000  # far beyond any context here; spares tokenizing a novel per request
EXAMPLE_PROMPTS = [
    "It was a bright cold day in April, and",
    "The old man looked out over the sea and said",
    "Elizabeth had never seen a place",
    "In the morning the rain had stopped and we",
]


MAX_TOP_K = 200  # the slider's end; the model code allows more


def seed_value(seed: Any) -> int | None:
    """The seed box: empty for a random seed (None), else a whole number from 0 to 2**31 - 1."""
    if seed is None or (isinstance(seed, str) and not seed.strip()):
        return None
    if isinstance(seed, str):
        try:
            seed = float(seed.strip())
        except ValueError:
            raise gr.Error(f"Seed must be a whole number, or empty for a random one; got {seed[:40]!r}.") from None
    return whole_number(seed, "Seed", 0, text.MAX_SEED)


class TextTab:
    def __init__(self, models: dict[str, LoadedModel], update_interval_s: float = text.UPDATE_INTERVAL_S):
        self.update_interval_s = update_interval_s  # how often the streamed text is sent to the page
        self.text_models = models  # some may still be loading (models.registry.LOAD_AFTER_START)
        self.stop_events: dict[str, threading.Event] = {}  # browser session -> its running generation's Stop

    @property
    def models(self) -> dict[str, LoadedModel]:
        """The text models that are loaded, by name ("text-gpt2-small", ...)."""
        return {name: loaded for name, loaded in self.text_models.items() if loaded.available}

    @staticmethod
    def label(loaded: LoadedModel) -> str:
        where = loaded.spec.shipped_label if loaded.origin == "shipped" else loaded.spec.hub_label
        return f"{loaded.model.name} ({where}, {loaded.model.precision})"

    def choices(self) -> dict:
        """The model choice once every text model has loaded: the available ones, labelled, the first selected."""
        wait_until_loaded(self.text_models)
        available = self.models
        return gr.update(
            choices=[(self.label(loaded), name) for name, loaded in available.items()],
            value=next(iter(available), None),
        )

    def complete_text(
        self,
        prompt: str,
        max_new_tokens: float = 100,
        temperature: float = 0.8,
        top_k: float = 50,
        top_p: float = 0.95,
        repetition_penalty: float = 1.1,
        seed: str | float | None = None,
        model: str | None = None,
        request: gr.Request | None = None,
    ):
        """Continue a prompt with GPT-2 or an LSTM, streaming the text as it is generated.

        Args:
            prompt: the beginning of a text; a prompt longer than the model's context keeps its end.
            max_new_tokens: at most this many new tokens, 1 to 512.
            temperature: 0 (always the likeliest token) to 2 (wilder).
            top_k: sample among the k likeliest tokens only; 0 turns it off.
            top_p: sample among the likeliest tokens that make up this much probability, 0.01 to 1.
            repetition_penalty: 1 (none) to 2; discourages repeating tokens.
            seed: random seed for reproducible text; empty picks one (reported in the status).
            model: which model answers, "text-gpt2" (OpenAI's), "text-gpt2-small" (a small GPT-2 trained here)
                or "text-lstm" (an LSTM trained here on the same books); empty takes the first available.
        Yields:
            The prompt and its continuation so far, and a status line (tokens per second, seed, notices).
        """
        wait_until_loaded(self.text_models)
        models = self.models
        if not models:
            raise gr.Error("No text model is available: see where the weights came from at the top of the page.")
        if model is None or model == "":
            loaded = next(iter(models.values()))
        else:
            loaded = models.get(choice(model, "Model", self.text_models))
            if loaded is None:
                raise gr.Error(f"The model {model!r} is not available; choose one of: {', '.join(models)}.")
        settings = text.GenerationSettings(
            max_new_tokens=whole_number(max_new_tokens, "Max new tokens", 1, text.MAX_NEW_TOKENS),
            temperature=number(temperature, "Temperature", 0, text.MAX_TEMPERATURE),
            top_k=whole_number(top_k, "Top-k", 0, MAX_TOP_K),
            top_p=number(top_p, "Top-p", 0.01, 1),
            repetition_penalty=number(repetition_penalty, "Repetition penalty", 1, text.MAX_REPETITION_PENALTY),
            seed=seed_value(seed),
        )
        try:
            prompt = text.clean_prompt("" if prompt is None else prompt)  # first: control characters do not count
        except ValueError as error:  # empty, or not text
            raise gr.Error(str(error)) from error
        notice = ""
        if len(prompt) > MAX_PROMPT_CHARACTERS:
            prompt = prompt[-MAX_PROMPT_CHARACTERS:]
            notice = f"The prompt was cut to its last {MAX_PROMPT_CHARACTERS:,} characters. "
        stop_event = self._new_stop_event(request)
        for part in text.stream_completion(loaded.model, prompt, settings, stop_event, self.update_interval_s):
            yield part.full_text, notice + part.status

    def _new_stop_event(self, request: gr.Request | None) -> threading.Event:
        """A fresh Stop for this browser session's generation (API callers stop by closing the stream)."""
        stop_event = threading.Event()
        if request is not None and request.session_hash:
            self.stop_events[request.session_hash] = stop_event
        return stop_event

    def stop_text(self, request: gr.Request) -> None:
        """The Stop button: the generation ends after the current token and keeps the text so far."""
        stop_event = self.stop_events.pop(request.session_hash, None) if request.session_hash else None
        if stop_event is not None:
            stop_event.set()


def build(tab: TextTab) -> gr.Radio:
    """The tab; returns the model choice, whose labels the app fills in once the text models have loaded."""
    gr.Markdown(
        "Type the beginning of a text and watch GPT-2 continue it, token by token. "
        "Without the Hub, the small GPT-2 trained here on public-domain novels answers; the LSTM trained on the "
        "same novels, an older kind of language model that reads one token at a time, is the other choice."
    )
    with gr.Row():
        with gr.Column(scale=3):
            # One line that grows (max_lines): Enter generates, Shift+Enter starts a new line.
            prompt = gr.Textbox(
                label="Prompt (Enter generates, Shift+Enter adds a new line)",
                lines=1,
                max_lines=8,
                placeholder="It was a dark and stormy night;",
                elem_id="text-prompt",
            )
            gr.Examples([[example] for example in EXAMPLE_PROMPTS], inputs=prompt)
            output = gr.Textbox(label="Completion", lines=12, elem_id="text-output", buttons=["copy"])
            status = gr.Markdown(elem_id="text-status")
        with gr.Column(scale=1):
            # The values are the model names, known before the models load (API calls are checked against
            # them); the labels say which model each is once it has loaded (TextTab.choices).
            model = gr.Radio(list(tab.text_models), value=None, label="Model")
            max_new_tokens = gr.Slider(
                1, text.MAX_NEW_TOKENS, value=100, step=1, label="Max new tokens", elem_id="text-max-tokens"
            )
            temperature = gr.Slider(0, text.MAX_TEMPERATURE, value=0.8, step=0.05, label="Temperature")
            top_k = gr.Slider(0, MAX_TOP_K, value=50, step=1, label="Top-k (0: off)")
            top_p = gr.Slider(0.01, 1, value=0.95, step=0.01, label="Top-p")
            repetition_penalty = gr.Slider(
                1, text.MAX_REPETITION_PENALTY, value=1.1, step=0.05, label="Repetition penalty"
            )
            # A Textbox, not a Number: Gradio's number box shows 0 when empty, and everyone would get seed 0.
            seed = gr.Textbox(label="Seed (empty: random)", placeholder="random", max_lines=1, elem_id="text-seed")
            with gr.Row():
                run = gr.Button("Generate", variant="primary", elem_id="text-generate")
                stop = gr.Button("Stop", variant="stop", elem_id="text-stop")
    inputs = [prompt, max_new_tokens, temperature, top_k, top_p, repetition_penalty, seed, model]
    # Generation has its own queue slot, so image tabs never wait behind a long completion.
    gr.on(
        [run.click, prompt.submit],
        model_handler(tab.complete_text),
        inputs,
        [output, status],
        api_name="complete_text",
        **EVENT,
        concurrency_id="text",
        concurrency_limit=1,
    )
    # Stop ends the generation gracefully (its text stays); it must not wait for the text slot it stops.
    stop.click(tab.stop_text, None, None, api_visibility="private", concurrency_limit=None)
    return model
