"""Text generation speed: time to first token and tokens per second, three ways, on the same model.

    python -m benchmarks.text [--weights-dir weights] [--tokens 128] [--runs 5]

1. bare `model.generate` (the reference: what transformers does alone);
2. the app's `models.text.stream_completion` in-process (generation in a thread, updates every 50 ms);
3. through the running app with gradio_client (`/complete_text`, streamed).

Then float32 against bfloat16 on a model of GPT-2's shape (124M parameters): OpenAI's GPT-2 when it is in
the local Hugging Face cache, else the same architecture with random weights (speed does not depend on
what the weights are), bare `model.generate` in each precision.

Every way samples the same number of new tokens with the same settings (`min_new_tokens` keeps the
bare run from stopping early; the streamed runs use seeds whose completions reach the limit), and
tokens/s counts the new tokens after the first over the time after the first token, so that the
prompt's processing is in the time to first token only. Runs for the shipped small GPT-2, and for
OpenAI's GPT-2 when it is in the local Hugging Face cache.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

from benchmarks.server import free_port, start_app, stop_app

ROOT = Path(__file__).resolve().parent.parent

PROMPT = "It was a bright cold day in April, and the clocks were striking thirteen. Winston Smith"
SETTINGS = {"temperature": 0.8, "top_k": 50, "top_p": 0.95, "repetition_penalty": 1.1}


def summary(first_token_s: list[float], rates: list[float]) -> dict[str, float]:
    return {"first_token_ms": 1000 * statistics.median(first_token_s), "tokens_per_s": statistics.median(rates)}


def bare_generate(loaded, new_tokens: int, runs: int) -> dict[str, float]:
    """`model.generate` alone: one token (time to first token), then `new_tokens` (the rate after it)."""
    from transformers import GenerationConfig

    model, tokenizer = loaded.model, loaded.tokenizer
    prompt_ids = tokenizer(PROMPT, return_tensors="pt")["input_ids"]

    def generate(count: int) -> float:
        config = GenerationConfig(
            max_new_tokens=count,
            min_new_tokens=count,
            do_sample=True,
            pad_token_id=tokenizer.eos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            **SETTINGS,
        )
        started = time.perf_counter()
        with torch.inference_mode():
            model.generate(prompt_ids, attention_mask=torch.ones_like(prompt_ids), generation_config=config)
        return time.perf_counter() - started

    generate(new_tokens)  # warm-up
    first, rates = [], []
    for _ in range(runs):
        one = generate(1)
        total = generate(new_tokens)
        first.append(one)
        rates.append((new_tokens - 1) / (total - one))
    return summary(first, rates)


def full_length_seed(loaded, new_tokens: int) -> int:
    """A seed whose completion of PROMPT runs to `new_tokens` (the model does not end the text first)."""
    from models.text import GenerationSettings, complete

    for seed in range(100):
        settings = GenerationSettings(max_new_tokens=new_tokens, seed=seed, **SETTINGS)
        if complete(loaded, PROMPT, settings).new_tokens == new_tokens:
            return seed
    raise RuntimeError(f"no seed in 0..99 makes the model write {new_tokens} tokens")


def streamed_in_process(loaded, new_tokens: int, runs: int, seed: int) -> dict[str, float]:
    from models.text import GenerationSettings, stream_completion

    settings = GenerationSettings(max_new_tokens=new_tokens, seed=seed, **SETTINGS)
    first, rates = [], []
    for run in range(runs + 1):
        started = time.perf_counter()
        first_at = None
        for completion in stream_completion(loaded, PROMPT, settings):
            first_at = first_at or time.perf_counter()
            new_tokens = completion.new_tokens
        finished = time.perf_counter()
        if run:  # the first run warms up
            first.append(first_at - started)
            rates.append((new_tokens - 1) / (finished - first_at))
    return summary(first, rates)


def through_the_app(client, model_name: str, new_tokens: int, runs: int, seed: int) -> dict[str, float]:
    """`/complete_text` with gradio_client: the first streamed update, and the rate after it."""
    arguments = (PROMPT, new_tokens, *SETTINGS.values(), seed, model_name)
    first, rates = [], []
    for run in range(runs + 1):
        started = time.perf_counter()
        job = client.submit(*arguments, api_name="/complete_text")
        first_at = None
        for text_so_far, _ in job:
            if first_at is None and len(text_so_far) > len(PROMPT):
                first_at = time.perf_counter()
        finished = time.perf_counter()
        status = job.result()[1]  # raises the app's error, if any
        generated = int(status.split(" tokens in ")[0].split()[-1])  # "57 tokens in 1.9 s (...)"
        if run:
            first.append(first_at - started)
            rates.append((generated - 1) / (finished - first_at))
    return summary(first, rates)


def text_models(weights_dir: Path) -> dict:
    """name -> LoadedModel for the text models here: shipped, or in the local HF cache."""
    from models.registry import LOAD_AFTER_START, load_models

    models = load_models(offline=True, overrides={}, weights_dir=weights_dir)
    return {name: models[name] for name in LOAD_AFTER_START if models[name].available}


def gpt2_shaped_model(precision: str):
    """OpenAI's GPT-2 from the local HF cache, else a randomly initialised GPT-2 (124M) with GPT-2's tokenizer."""
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2Tokenizer

    from models.text import TextModel, load_text_model

    try:
        from huggingface_hub import snapshot_download

        folder = snapshot_download("openai-community/gpt2", local_files_only=True)
        return load_text_model(Path(folder), precision=precision), "OpenAI's GPT-2"
    except Exception:  # not cached (no Hub here): the same shape, random weights
        torch.manual_seed(0)
        model = GPT2LMHeadModel(GPT2Config()).eval()
        if precision == "bfloat16":
            model = model.to(torch.bfloat16)
        tokenizer_dir = Path(os.environ.get("SUITE_DATA_DIR", ROOT.parent / "shared" / "data")) / "gpt2-tokenizer"
        tokenizer = GPT2Tokenizer(vocab=str(tokenizer_dir / "vocab.json"), merges=str(tokenizer_dir / "merges.txt"))
        return TextModel(model, tokenizer, "GPT-2 (124M), random weights"), "GPT-2's shape, random weights"


def compare_precisions(tokens: int, runs: int) -> dict[str, dict[str, float]]:
    """precision -> bare `model.generate` figures, for a model of GPT-2's size."""
    results = {}
    for precision in ("float32", "bfloat16"):
        loaded, what = gpt2_shaped_model(precision)
        results[precision] = {**bare_generate(loaded, tokens, runs), "model": what}
    return results


def print_precisions(results: dict[str, dict], tokens: int) -> None:
    what = next(iter(results.values()))["model"]
    print(f"GPT-2 (124M) precision, bare model.generate, {tokens} new tokens ({what}):")
    base = results["float32"]["tokens_per_s"]
    for precision, figures in results.items():
        print(
            f"  {precision:<9} first token {figures['first_token_ms']:7.1f} ms   "
            f"{figures['tokens_per_s']:6.1f} tokens/s   {figures['tokens_per_s'] / base:4.2f}×"
        )


def measure(client, weights_dir: Path, tokens: int, runs: int) -> dict[str, dict[str, dict[str, float]]]:
    """model name -> way -> figures, for every text model available; `client` talks to the running app."""
    results = {}
    for name, loaded in text_models(weights_dir).items():
        seed = full_length_seed(loaded.model, tokens)
        results[name] = {
            "bare model.generate": bare_generate(loaded.model, tokens, runs),
            "stream_completion, in-process": streamed_in_process(loaded.model, tokens, runs, seed),
            "/complete_text via gradio_client": through_the_app(client, name, tokens, runs, seed),
        }
    return results


def print_table(results: dict, tokens: int, runs: int) -> None:
    print(f"text generation: {tokens} new tokens, median of {runs} runs, {torch.get_num_threads()} torch threads")
    print(f"{'model':<18} {'way':<34} {'first token ms':>15} {'tokens/s':>9} {'vs bare':>8}")
    for name, ways in results.items():
        bare = ways["bare model.generate"]["tokens_per_s"]
        for way, figures in ways.items():
            print(
                f"{name:<18} {way:<34} {figures['first_token_ms']:>15.1f} "
                f"{figures['tokens_per_s']:>9.1f} {figures['tokens_per_s'] / bare:>7.2f}×"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights-dir", type=Path, default=ROOT / "weights")
    parser.add_argument("--tokens", type=int, default=128, help="new tokens per completion")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per way (median reported)")
    parser.add_argument("--precisions-only", action="store_true", help="only float32 against bfloat16 for GPT-2")
    args = parser.parse_args()
    if args.precisions_only:
        print_precisions(compare_precisions(args.tokens, args.runs), args.tokens)
        return
    from gradio_client import Client

    if not text_models(args.weights_dir):
        raise SystemExit(f"No text model shipped in {args.weights_dir} nor cached: nothing to measure.")
    port = free_port()
    server, _ = start_app(port, "--weights-dir", str(args.weights_dir))
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        print_table(measure(client, args.weights_dir, args.tokens, args.runs), args.tokens, args.runs)
    finally:
        stop_app(server)
    print_precisions(compare_precisions(args.tokens, args.runs), args.tokens)


if __name__ == "__main__":
    main()
