"""An LSTM language model (Liu, *Learn Generative AI with PyTorch*, ch. 8), in one plain file.

token ids → embedding → dropout → multi-layer LSTM → dropout → linear head → logits over the vocabulary.
The head shares the embedding's weights when the two are the same size (n_embd == hidden_size).

`forward(input_ids, state)` returns the logits and the LSTM's state after the last token: feeding that
state back in continues the text without reading its beginning again, which is what `generate` does
(one forward pass over the prompt, then one step per new token). `generate` takes the subset of Hugging Face
`generate`'s arguments that `models.text.stream_completion` passes, and samples with transformers' own logits
processors and stopping criteria, so that the app streams, seeds and stops it as it does a GPT-2.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from models.hub import StrictHubMixin, model_device

MODEL_TYPE = "lstm"  # config.json's "model_type": how models.text.load_text_model tells this model from a GPT-2
HUB_METADATA = dict(library_name="pytorch", license="mit", tags=["lstm", "text-generation", "generative-models-suite"])

State = tuple[torch.Tensor, torch.Tensor]  # (h, c), each (n_layer, batch, hidden_size)
# The GenerationConfig fields `generate` follows; a config that sets any other is refused rather than ignored.
GENERATION_FIELDS = {
    "max_new_tokens", "max_length", "min_new_tokens", "min_length", "do_sample", "temperature", "top_k", "top_p",
    "repetition_penalty", "eos_token_id", "pad_token_id", "bos_token_id", "transformers_version",
}  # fmt: skip


class LSTMLanguageModel(nn.Module, StrictHubMixin, **HUB_METADATA):
    """A word-piece LSTM language model.

    context_length: the tokens (prompt and completion together) that generation is meant for: an LSTM has no
    fixed window, but it was trained to carry its state this far (training/train_lstm.py), and the app sizes
    prompts and completions by it.
    """

    def __init__(
        self,
        vocab_size: int = 8192,
        n_embd: int = 256,
        hidden_size: int = 512,
        n_layer: int = 2,
        dropout: float = 0.1,
        context_length: int = 1024,
    ):
        super().__init__()
        self.vocab_size, self.n_embd, self.hidden_size, self.n_layer = vocab_size, n_embd, hidden_size, n_layer
        self.context_length = context_length
        self.embedding = nn.Embedding(vocab_size, n_embd)
        self.dropout = nn.Dropout(dropout)
        # Dropout between the LSTM's layers too (nn.LSTM applies it to the outputs of all but the last).
        self.lstm = nn.LSTM(n_embd, hidden_size, n_layer, batch_first=True, dropout=dropout if n_layer > 1 else 0.0)
        self.head = nn.Linear(hidden_size, vocab_size)
        self._init_weights()
        if n_embd == hidden_size:
            self.head.weight = self.embedding.weight  # tied: one matrix reads and writes the tokens

    def _init_weights(self) -> None:
        # Small embeddings and head (as PyTorch's word_language_model example); the LSTM keeps PyTorch's
        # uniform init, with its forget gates' bias at 1 so that the state is kept by default early in training.
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        nn.init.uniform_(self.head.weight, -0.1, 0.1)
        nn.init.zeros_(self.head.bias)
        with torch.no_grad():
            for layer in range(self.n_layer):
                bias = getattr(self.lstm, f"bias_ih_l{layer}")  # gates in PyTorch's order: input, forget, cell, output
                bias[self.hidden_size : 2 * self.hidden_size] = 1.0
                getattr(self.lstm, f"bias_hh_l{layer}")[self.hidden_size : 2 * self.hidden_size] = 0.0

    @property
    def config(self) -> dict[str, Any]:
        """config.json's content: the constructor's arguments and the model type."""
        return {
            "model_type": MODEL_TYPE,
            "vocab_size": self.vocab_size,
            "n_embd": self.n_embd,
            "hidden_size": self.hidden_size,
            "n_layer": self.n_layer,
            "dropout": self.dropout.p,
            "context_length": self.context_length,
        }

    def save_pretrained(self, save_directory, *, config: dict | None = None, **kwargs: Any):
        """Hub-layout save (config.json with "model_type": "lstm", model.safetensors)."""
        return super().save_pretrained(save_directory, config={**self.config, **(config or {})}, **kwargs)

    @property
    def device(self) -> torch.device:
        return model_device(self)

    @property
    def dtype(self) -> torch.dtype:
        return self.embedding.weight.dtype

    def forward(self, input_ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """(batch, time) token ids, and the state to start from (zeros if None) → (batch, time, vocab) logits
        and the state after the last token."""
        hidden = self.dropout(self.embedding(input_ids))  # (B, T, n_embd)
        output, state = self.lstm(hidden, state)  # (B, T, hidden_size)
        return self.head(self.dropout(output)), state  # (B, T, vocab)

    # ------------------------------------------------------------------------------------------
    # Generation, the Hugging Face way

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        generation_config: Any = None,
        stopping_criteria: Any = None,
        streamer: Any = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        """Continue `input_ids` (batch, time) and return them with the new tokens, like transformers' `generate`
        for greedy search and multinomial sampling.

        Settings come from `generation_config` (a transformers `GenerationConfig`), overridden by keyword
        arguments of the same names: max_new_tokens (else max_length), min_new_tokens, min_length, do_sample,
        temperature, top_k, top_p, repetition_penalty, eos_token_id, pad_token_id; any other setting is an error.
        The streamer gets the prompt, then each new token; generation ends after max_new_tokens, at the
        end-of-text token, or when a stopping criterion says so. Prompts must not be padded (one prompt, or
        prompts of one length).
        """
        from transformers import (
            GenerationConfig,
            LogitsProcessorList,
            MinLengthLogitsProcessor,
            MinNewTokensLengthLogitsProcessor,
            RepetitionPenaltyLogitsProcessor,
            StoppingCriteriaList,
            TemperatureLogitsWarper,
            TopKLogitsWarper,
            TopPLogitsWarper,
        )

        config = copy.deepcopy(generation_config) if generation_config is not None else GenerationConfig()
        unused = config.update(**kwargs)
        unsupported = sorted(set(unused) | (set(config.to_diff_dict()) - GENERATION_FIELDS))
        if unsupported:
            raise TypeError(f"generate() got settings this LSTM does not support: {', '.join(unsupported)}")
        if attention_mask is not None and not bool(attention_mask.bool().all()):
            raise ValueError("padded prompts are not supported: an LSTM reads its prompt from the first token")
        if config.max_new_tokens is not None:
            max_new_tokens = config.max_new_tokens
        else:
            max_new_tokens = config.max_length - input_ids.shape[1]

        eos = config.eos_token_id
        eos = None if eos is None else torch.tensor([eos] if isinstance(eos, int) else list(eos), device=self.device)
        pad = config.pad_token_id if config.pad_token_id is not None else (None if eos is None else int(eos[0]))

        # The processors transformers' generate would build for these settings, in its order.
        processors = LogitsProcessorList()
        if config.repetition_penalty is not None and config.repetition_penalty != 1.0:
            processors.append(RepetitionPenaltyLogitsProcessor(config.repetition_penalty))
        if eos is not None and config.min_length:
            processors.append(MinLengthLogitsProcessor(config.min_length, eos, device=eos.device))
        if eos is not None and config.min_new_tokens:
            processors.append(
                MinNewTokensLengthLogitsProcessor(input_ids.shape[1], config.min_new_tokens, eos, device=eos.device)
            )
        if config.do_sample:
            if config.temperature is not None and config.temperature != 1.0:
                processors.append(TemperatureLogitsWarper(config.temperature))
            if config.top_k:
                processors.append(TopKLogitsWarper(config.top_k))
            if config.top_p is not None and config.top_p < 1.0:
                processors.append(TopPLogitsWarper(config.top_p))
        criteria = StoppingCriteriaList(stopping_criteria or [])

        input_ids = input_ids.to(self.device)
        unfinished = torch.ones(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        if streamer is not None:
            streamer.put(input_ids.cpu())
        logits, state = self(input_ids)  # the whole prompt, once
        for step in range(max(0, max_new_tokens)):
            scores = processors(input_ids, logits[:, -1].float())
            if config.do_sample:
                next_tokens = torch.multinomial(F.softmax(scores, dim=-1), num_samples=1).squeeze(1)
            else:
                next_tokens = scores.argmax(dim=-1)
            if pad is not None:  # a sequence that has ended gets padding, as in transformers
                next_tokens = torch.where(unfinished, next_tokens, torch.full_like(next_tokens, pad))
            input_ids = torch.cat([input_ids, next_tokens[:, None]], dim=-1)
            if streamer is not None:
                streamer.put(next_tokens.cpu())
            finished = criteria(input_ids, scores)
            if eos is not None:
                finished = finished | torch.isin(next_tokens, eos)
            unfinished = unfinished & ~finished
            if not bool(unfinished.any()) or step == max_new_tokens - 1:
                break
            logits, state = self(next_tokens[:, None], state)  # one token, from the state the text left
        if streamer is not None:
            streamer.end()
        return input_ids
