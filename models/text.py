"""Text: completion with GPT-2 (our small one or OpenAI's, Hugging Face transformers) or our LSTM (models/lstm.py).

`load_text_model(folder)` is the app's load_fn: it loads any GPT-2 folder in Hub layout (config.json,
safetensors weights, tokenizer files), or an LSTM folder (config.json with "model_type": "lstm", and the same
tokenizer files), on the CPU, in float32 (even when the weights are stored in float16), or in bfloat16 where
that pays (`PRECISIONS`). Both generate through the same `generate` arguments.
`stream_completion(loaded, prompt, settings, stop_event)` streams the growing completion while
`model.generate` runs in a thread; `complete` is the same, waiting for the end.
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from models.lstm import MODEL_TYPE as LSTM_MODEL_TYPE
from models.lstm import LSTMLanguageModel

# transformers takes seconds to import: it is imported where a model is loaded or run, so the
# app starts fast and pays for it only when it has a text model.
if TYPE_CHECKING:
    from transformers import PreTrainedModel

MAX_NEW_TOKENS = 512
MAX_TEMPERATURE = 2.0
MAX_TOP_K = 1000
MAX_REPETITION_PENALTY = 2.0
MAX_SEED = 2**31 - 1
# "auto": bfloat16 for models of at least BFLOAT16_MIN_PARAMETERS on a CPU with native bfloat16 arithmetic
# (AVX-512 BF16 or AMX), where it generated GPT-2 (124M) 1.4× faster; float32 otherwise. A small model's step
# is dominated by per-token overhead, not arithmetic, so it stays in float32 (python -m benchmarks.text).
PRECISIONS = ("auto", "float32", "bfloat16")
BFLOAT16_MIN_PARAMETERS = 50_000_000
STOP_REASONS = {"length": "length limit reached", "end of text": "the model ended the text", "stopped": "stopped"}
# A streamed completion is shown at most this often: one update per token would cost a decode and a
# message to the browser per token, slowing a fast model by a quarter, and no eye follows 100 updates a second.
UPDATE_INTERVAL_S = 0.05


@dataclass
class TextModel:
    """A causal language model (transformers' GPT-2 or our LSTM) and its tokenizer, ready to generate (eval mode)."""

    model: PreTrainedModel | LSTMLanguageModel
    tokenizer: Any
    name: str
    # One generation at a time per model: seeding uses torch's global generator, shared by all threads.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def to(self, device: torch.device | str) -> TextModel:
        self.model.to(device)
        return self

    @property
    def context_length(self) -> int:
        """The most tokens, prompt and completion together, that a generation may use."""
        if isinstance(self.model, LSTMLanguageModel):
            return int(self.model.context_length)
        return int(self.model.config.max_position_embeddings)

    @property
    def parameter_count(self) -> int:
        return sum(parameter.numel() for parameter in self.model.parameters())

    @property
    def precision(self) -> str:
        return str(self.model.dtype).removeprefix("torch.")


def load_text_model(folder: Path, precision: str = "auto") -> TextModel:
    """Load a GPT-2 folder (ours or openai-community/gpt2) or an LSTM folder (ours) for CPU inference;
    `precision` is one of PRECISIONS."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{folder} has no config.json: not a model folder")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    # float32 first: weights shipped in float16 are upcast, as half precision is slow and lossy on CPU.
    from transformers import AutoModelForCausalLM

    if is_lstm_folder(folder):
        model = LSTMLanguageModel.from_pretrained(folder)  # built in float32; float16 weights are upcast
    else:
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, use_safetensors=True)
    parameters = sum(parameter.numel() for parameter in model.parameters())
    if precision == "bfloat16" or (precision == "auto" and prefers_bfloat16(parameters)):
        model = model.to(torch.bfloat16)
    tokenizer = load_tokenizer(folder)
    model.eval()
    return TextModel(model=model, tokenizer=tokenizer, name=_human_name(folder, model))


def is_lstm_folder(folder: Path) -> bool:
    """Whether config.json describes our LSTM ("model_type": "lstm") rather than a transformers model."""
    try:
        config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False  # transformers reports a broken config better
    return isinstance(config, dict) and config.get("model_type") == LSTM_MODEL_TYPE


def load_tokenizer(folder: Path) -> Any:
    """The folder's tokenizer (tokenizer.json, tokenizer_config.json), with transformers' AutoTokenizer."""
    from transformers import AutoTokenizer, PretrainedConfig

    # An LSTM folder's config.json is not one transformers knows (it would warn): tokenizer_config.json says it all.
    config = PretrainedConfig() if is_lstm_folder(folder) else None
    return AutoTokenizer.from_pretrained(folder, config=config)


def bfloat16_is_native() -> bool:
    """Whether this CPU computes in bfloat16 natively (AVX-512 BF16 or AMX): then bfloat16 is faster, not slower."""
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def prefers_bfloat16(parameters: int) -> bool:
    return parameters >= BFLOAT16_MIN_PARAMETERS and bfloat16_is_native()


def _human_name(folder: Path, model: PreTrainedModel | LSTMLanguageModel) -> str:
    """The model card's title (e.g. "GPT-2"), else a description from the config."""
    card = folder / "README.md"
    if card.exists():
        for line in card.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    if isinstance(model, LSTMLanguageModel):
        return f"LSTM ({model.n_layer} layers, {model.hidden_size} wide)"
    config = model.config
    return f"{config.model_type} ({config.num_hidden_layers} layers, {config.hidden_size} wide)"


# ----------------------------------------------------------------------------------------------
# Generation settings


@dataclass(frozen=True)
class GenerationSettings:
    """How to sample. temperature 0 means greedy decoding; top_k 0 and top_p 1 switch those filters off.

    seed None draws a fresh seed, which the completion reports so that the result can be reproduced.
    """

    max_new_tokens: int = 100
    temperature: float = 0.8
    top_k: int = 50
    top_p: float = 0.95
    repetition_penalty: float = 1.1
    seed: int | None = None

    def clamped(self) -> GenerationSettings:
        """The same settings moved into sane ranges; ValueError for NaN or a value that is not a number."""
        seed = None if self.seed is None else int(_number("seed", self.seed, -math.inf, math.inf)) % (MAX_SEED + 1)
        return GenerationSettings(
            max_new_tokens=round(_number("max_new_tokens", self.max_new_tokens, 1, MAX_NEW_TOKENS)),
            temperature=_number("temperature", self.temperature, 0.0, MAX_TEMPERATURE),
            top_k=round(_number("top_k", self.top_k, 0, MAX_TOP_K)),
            top_p=_number("top_p", self.top_p, 0.01, 1.0),
            repetition_penalty=_number("repetition_penalty", self.repetition_penalty, 1.0, MAX_REPETITION_PENALTY),
            seed=seed,
        )


def _number(name: str, value: Any, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if math.isnan(number):
        raise ValueError(f"{name} must be a number, got NaN")
    if math.isinf(number) and math.isinf(low) and math.isinf(high):
        raise ValueError(f"{name} must be finite, got {number}")
    return min(max(number, low), high)


def clean_prompt(prompt: str) -> str:
    """The prompt without control characters (newlines and tabs stay; emoji and all other text stay).

    Raises ValueError when nothing but white space is left.
    """
    if not isinstance(prompt, str):
        raise ValueError(f"The prompt must be text, got {type(prompt).__name__}.")
    prompt = re.sub(r"\r\n?", "\n", prompt)
    # Cc: C0/C1 control characters; Cs: lone surrogates, which cannot be encoded as UTF-8.
    cleaned = "".join(char for char in prompt if char in "\n\t" or unicodedata.category(char) not in ("Cc", "Cs"))
    if not cleaned.strip():
        raise ValueError("The prompt is empty: type the beginning of a text for the model to continue.")
    return cleaned


# ----------------------------------------------------------------------------------------------
# Streaming generation


@dataclass(frozen=True)
class Completion:
    """One step of a streamed completion: the continuation so far and figures about the run."""

    prompt: str  # the cleaned prompt, all of it
    text: str  # the continuation generated so far
    new_tokens: int
    seconds: float  # since generation started (after waiting for the model)
    seed: int
    prompt_tokens: int  # tokens in the prompt
    prompt_tokens_used: int  # tokens at the end of the prompt that the model saw
    max_new_tokens: int  # the limit actually used: the requested one, lowered if the context is short
    requested_new_tokens: int
    context_length: int
    finished: bool = False
    stop_reason: str | None = None  # when finished: "length", "end of text" or "stopped"

    @property
    def full_text(self) -> str:
        return self.prompt + self.text

    @property
    def truncated(self) -> bool:
        return self.prompt_tokens_used < self.prompt_tokens

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds > 0 else 0.0

    @property
    def notice(self) -> str:
        """What the user should know about the prompt and the limit, or ""."""
        notes = []
        if self.truncated:
            notes.append(
                f"The prompt has {self.prompt_tokens} tokens, more than fit in the model's {self.context_length}-token "
                f"context with the completion: only its last {self.prompt_tokens_used} tokens were used."
            )
        if self.max_new_tokens < self.requested_new_tokens:
            notes.append(f"The completion is limited to {self.max_new_tokens} tokens by the context.")
        return " ".join(notes)

    @property
    def status(self) -> str:
        """One line for the page, e.g. "57 tokens in 1.9 s (30.0 tokens/s), seed 42, stopped"."""
        parts = [f"{self.new_tokens} tokens in {self.seconds:.1f} s ({self.tokens_per_second:.1f} tokens/s)"]
        parts.append(f"seed {self.seed}")
        if self.finished and self.stop_reason == "stopped":
            parts.append(f"stopped after {self.new_tokens} tokens")
        elif self.finished:
            parts.append(STOP_REASONS.get(self.stop_reason or "", "done"))
        line = ", ".join(parts)
        return f"{line}. {self.notice}" if self.notice else line


class _StopAndCount:
    """Stops generation once a stop event is set; counts the new tokens as they come.

    transformers calls each stopping criterion as `criterion(input_ids, scores)`; this is one in all
    but name (subclassing StoppingCriteria would import transformers when the app starts).
    """

    def __init__(self, prompt_length: int, stop_events: list[threading.Event]):
        self.prompt_length = prompt_length
        self.stop_events = stop_events
        self.new_tokens = 0
        self.stopped = False

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        self.new_tokens = input_ids.shape[-1] - self.prompt_length
        self.stopped = any(event.is_set() for event in self.stop_events)
        return torch.full((input_ids.shape[0],), self.stopped, dtype=torch.bool, device=input_ids.device)


class _TokenCollector:
    """`model.generate`'s streamer: keeps the new token ids; the reader decodes them when it wants to show them.

    (transformers' TextIteratorStreamer decodes and queues text after every token, which costs more than a
    small model's step.) The first `put` holds the prompt, which is skipped.
    """

    def __init__(self):
        self.ids: list[int] = []
        self.finished = False
        self.changed = threading.Condition()
        self._prompt_skipped = False

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_skipped:
            self._prompt_skipped = True
            return
        with self.changed:
            self.ids.extend(value.reshape(-1).tolist())
            self.changed.notify()

    def end(self) -> None:
        with self.changed:
            self.finished = True
            self.changed.notify()

    def wait_until_finished(self, timeout: float) -> None:
        """Block for `timeout` seconds, or less if generation ends meanwhile."""
        with self.changed:
            self.changed.wait_for(lambda: self.finished, timeout=timeout)

    def wait_for_more(self, seen: int) -> tuple[list[int], bool]:
        """Block until there are more than `seen` ids or generation has ended; returns (ids, ended)."""
        with self.changed:
            self.changed.wait_for(lambda: self.finished or len(self.ids) > seen)
            return list(self.ids), self.finished


def stream_completion(
    loaded: TextModel,
    prompt: str,
    settings: GenerationSettings | None = None,
    stop_event: threading.Event | None = None,
    update_interval_s: float = UPDATE_INTERVAL_S,
) -> Iterator[Completion]:
    """Yield a `Completion` each time more text is ready (at most every `update_interval_s`), and a last one
    with `finished=True`.

    The settings are clamped first. Setting `stop_event` (a fresh one per request) stops generation after
    the current token; so does closing the iterator. A prompt too long for the context keeps its end
    (`Completion.truncated`, `Completion.notice`). Raises ValueError for an empty prompt. Generations on
    one model run one at a time, so that a seed always gives the same text.
    """
    from transformers import GenerationConfig, StoppingCriteriaList

    prompt = clean_prompt(prompt)
    settings = (settings or GenerationSettings()).clamped()
    seed = settings.seed if settings.seed is not None else random.randint(0, MAX_SEED)
    tokenizer, model = loaded.tokenizer, loaded.model

    prompt_ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt", verbose=False)["input_ids"]
    context = loaded.context_length
    # Leave room for the completion, but never less than half the context for the prompt.
    max_new_tokens = min(settings.max_new_tokens, context - 1)
    prompt_budget = max(context - max_new_tokens, context // 2)
    used_ids = prompt_ids[:, -prompt_budget:]
    max_new_tokens = min(max_new_tokens, context - used_ids.shape[1])

    abandoned = threading.Event()  # set when the caller stops iterating, e.g. a closed browser tab
    criteria = _StopAndCount(used_ids.shape[1], [abandoned] + ([stop_event] if stop_event else []))
    streamer = _TokenCollector()
    eos = tokenizer.eos_token_id
    greedy = settings.temperature == 0
    # Every field is set: generate() fills unset ones from the model's own generation_config.json.
    config = GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=not greedy,
        temperature=1.0 if greedy else settings.temperature,
        top_k=50 if greedy else settings.top_k,  # greedy: the library defaults, which it does not warn about
        top_p=1.0 if greedy else settings.top_p,
        repetition_penalty=settings.repetition_penalty,
        eos_token_id=eos,
        pad_token_id=eos,
    )
    timing: dict[str, float] = {}
    errors: list[BaseException] = []

    def completion(text: str, **final: Any) -> Completion:
        seconds = time.perf_counter() - timing["start"] if "start" in timing else 0.0
        return Completion(
            prompt=prompt,
            text=text,
            new_tokens=criteria.new_tokens,
            seconds=seconds,
            seed=seed,
            prompt_tokens=prompt_ids.shape[1],
            prompt_tokens_used=used_ids.shape[1],
            max_new_tokens=max_new_tokens,
            requested_new_tokens=settings.max_new_tokens,
            context_length=context,
            **final,
        )

    def generate() -> None:
        try:
            with loaded.lock, torch.inference_mode():
                torch.manual_seed(seed)
                timing["start"] = time.perf_counter()
                model.generate(
                    input_ids=used_ids.to(model.device),
                    attention_mask=torch.ones_like(used_ids).to(model.device),
                    generation_config=config,
                    stopping_criteria=StoppingCriteriaList([criteria]),
                    streamer=streamer,
                )
        except BaseException as error:  # handed to the caller's thread below
            errors.append(error)
            streamer.end()  # unblocks the iteration

    def decode(ids: list[int]) -> str:
        return tokenizer.decode(ids, skip_special_tokens=True)

    worker = threading.Thread(target=generate, daemon=True)
    worker.start()
    text, seen = "", 0
    try:
        while True:
            ids, ended = streamer.wait_for_more(seen)
            if ended:
                break
            shown_at, seen = time.perf_counter(), len(ids)
            partial = decode(ids).rstrip("\ufffd")  # a character whose bytes are not all generated yet
            if partial != text:
                text = partial
                yield completion(text)
            # The next update waits out the interval, unless generation ends first: the end is shown at once.
            streamer.wait_until_finished(max(0.0, update_interval_s - (time.perf_counter() - shown_at)))
        worker.join()
        text = decode(ids)
    finally:
        abandoned.set()
    if errors:
        raise errors[0]
    if criteria.stopped:
        reason = "stopped"
    elif criteria.new_tokens >= max_new_tokens:
        reason = "length"
    else:
        reason = "end of text"
    yield completion(text, finished=True, stop_reason=reason)


def complete(
    loaded: TextModel,
    prompt: str,
    settings: GenerationSettings | None = None,
    stop_event: threading.Event | None = None,
) -> Completion:
    """The finished completion of `prompt` (`stream_completion` without the intermediate steps)."""
    for completion in stream_completion(loaded, prompt, settings, stop_event):
        last = completion
    return last
