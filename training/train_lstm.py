"""Train the LSTM language model (models/lstm.py) on public-domain novels, beside the small GPT-2.

    python -m training.train_lstm --tokenizer /root/runs/text-gpt2-prose/model --mixed-precision bf16
                                                  # the GPT's own tokenizer (about an hour on one CPU thread)
    python -m training.train_lstm                 # a new BPE tokenizer trained on the books first
    python -m training.train_lstm --tiny          # smoke test: tiny tokenizer and model, 20 steps

The data are train_gpt.py's (training/books.py): every book prepared as prose, joined with <|endoftext|>, the
same two books held out (--val-book, Kafka; --val-book2, Carroll), and the same bits-per-byte evaluation
(windows of --context tokens, each read from a fresh state), so that the two models compare on one scale.
With --tokenizer both also read the same tokens.

Training is truncated backpropagation through time. Each of the --batch-size rows of a batch is a stream: it
reads --carry consecutive windows of --context tokens, carrying the LSTM's state from one window to the next
(gradients stop at the window's edge), then starts afresh, with a zero state, at a random place in the books.
The streams are staggered, so that every step a --carry-th of them start afresh: the model learns both to
begin a text from nothing (as in the app, from the prompt) and to use what it read windows ago. The model is
told it may generate --carry × --context tokens (its config's context_length), which is the app's limit.
A second score reads the validation books in windows of that length.

Writes a Hub-layout folder (config.json, model.safetensors, tokenizer files, README.md model card) to
--out-dir, and the loss curve and a resumable checkpoint to --run-dir.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from models.lstm import LSTMLanguageModel, State
from models.text import load_tokenizer
from training.books import (
    add_book_arguments,
    describe_data,
    encode_books,
    evaluate,
    read_books,
    resolve_val_books,
    run_data,
    run_summary,
    train_tokenizer,
    validation_sets,
)
from training.common import command_line
from training.loop import TrainingRun, update
from training.train_gpt import FILE_LIMIT_BYTES, lr_factor, sample_text, save_model

# Sized for about an hour on one CPU thread with --mixed-precision bf16: the 10M-parameter default trains at
# about 3,600 tokens/s there (2,200 in float32), so 1600 steps of 32 × 256 tokens (13M tokens, 7 passes over
# the books) take an hour, and the 8 evaluations a few minutes more.
DEFAULTS = dict(
    vocab_size=8192, n_embd=256, hidden_size=512, n_layer=2, dropout=0.2, context=256, carry=4,
    batch_size=32, lr=2e-3, warmup_steps=100, max_steps=1600, eval_every=200,
)  # fmt: skip
TINY = dict(
    vocab_size=512, n_embd=64, hidden_size=64, n_layer=2, context=32, carry=2,
    batch_size=8, warmup_steps=2, max_steps=20, eval_every=10,
)  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_book_arguments(parser)  # --data-dir, --books, --val-book, --val-book2, --exclude
    parser.add_argument(
        "--tokenizer", metavar="DIR", type=Path, help="use this tokenizer folder (e.g. the GPT's) instead of a new one"
    )
    parser.add_argument("--vocab-size", type=int, help="BPE vocabulary of a new tokenizer (default 8192)")
    parser.add_argument("--n-embd", type=int, help="token embedding width (default 256)")
    parser.add_argument("--hidden-size", type=int, help="LSTM width (default 512; equal to --n-embd ties the head)")
    parser.add_argument("--n-layer", type=int, help="LSTM layers (default 2)")
    parser.add_argument("--dropout", type=float, help="default 0.2")
    parser.add_argument("--context", type=int, help="tokens per window: backpropagation stops at its edge (256)")
    parser.add_argument("--carry", type=int, help="windows a stream reads with its state carried, then anew (4)")
    parser.add_argument("--batch-size", type=int, help="streams per step and per process (default 32)")
    parser.add_argument("--lr", type=float, help="peak learning rate (default 2e-3)")
    parser.add_argument("--warmup-steps", type=int)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--max-steps", type=int)
    parser.add_argument("--eval-every", type=int, help="steps between validations, samples and checkpoints")
    parser.add_argument("--sample-prompt", default="It was late in the evening when")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=Path("weights/text-lstm"), help="Hub-layout output")
    parser.add_argument("--run-dir", type=Path, default=Path("runs/text-lstm"), help="checkpoint and plot")
    parser.add_argument("--resume", action="store_true", help="continue from <run-dir>/checkpoint.pt")
    parser.add_argument("--tiny", action="store_true", help="a tiny model and 20 steps: a smoke test")
    parser.add_argument("--mixed-precision", choices=["no", "fp16", "bf16"], default="no")
    parser.add_argument("--push-to-hub", metavar="REPO_ID", help="upload the output folder to this Hub repo")
    args = parser.parse_args(argv)
    args.command = command_line("training.train_lstm", argv)
    for name, value in ({**DEFAULTS, **TINY} if args.tiny else DEFAULTS).items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    resolve_val_books(args)
    return args


# ----------------------------------------------------------------------------------------------
# Data: streams through the books


def stream_windows(
    ids: torch.Tensor, batch_size: int, context: int, carry: int, step: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch of `step`: (batch_size, context + 1) windows, and which rows start afresh (a zero state).

    Row b reads window (step + b) % carry of a run of `carry` consecutive windows, whose start is drawn from
    (seed, the step the run began, b): so any step's batch is known without the ones before (exact resumes).
    """
    span = carry * context
    windows, fresh = [], []
    for row in range(batch_size):
        done = (step + row) % carry  # windows of its run this stream has already read
        generator = torch.Generator().manual_seed(hash((seed, step - done, row)) % 2**63)
        start = int(torch.randint(len(ids) - span, (1,), generator=generator)) + done * context
        windows.append(ids[start : start + context + 1])
        fresh.append(done == 0)
    return torch.stack(windows), torch.tensor(fresh)


def restart(state: State | None, fresh: torch.Tensor) -> State | None:
    """The carried state, with the rows that start afresh set to zero (gradients stop here either way)."""
    if state is None:
        return None
    keep = (~fresh).to(state[0].device, state[0].dtype)[None, :, None]  # (1, batch, 1)
    return tuple(part.detach() * keep for part in state)


def gather_state(state: State, accelerator) -> torch.Tensor:
    """Every process's state as one (streams, 2, layers, hidden) CPU tensor, for the checkpoint."""
    return accelerator.gather(torch.stack(state).permute(2, 0, 1, 3).contiguous()).cpu()


def scatter_state(saved: torch.Tensor, batch_size: int, accelerator) -> State:
    """This process's part of a state saved by `gather_state`."""
    rows = saved[accelerator.process_index * batch_size : (accelerator.process_index + 1) * batch_size]
    h, c = rows.permute(1, 2, 0, 3).contiguous().to(accelerator.device)
    return h, c


# ----------------------------------------------------------------------------------------------
# Training


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    run = TrainingRun(args, position="step")  # first: the seed below decides the initial weights too
    accelerator = run.accelerator
    train_paths, val_paths, train_texts, val_texts = read_books(args)

    # The run's tokenizer and model config live in <run-dir>/model, so that a resumed run uses the same ones.
    start_dir = args.run_dir / "model"
    resuming = args.resume and run.checkpoint_path.exists()
    if not resuming and accelerator.is_main_process:
        if args.tokenizer:
            load_tokenizer(args.tokenizer).save_pretrained(start_dir)
        else:
            train_tokenizer(train_texts, args.vocab_size, args.context * args.carry).save_pretrained(start_dir)
    accelerator.wait_for_everyone()
    tokenizer = load_tokenizer(start_dir)  # a resumed run's folder holds the LSTM's config.json too
    if tokenizer.eos_token_id is None:
        raise ValueError(f"the tokenizer in {start_dir} has no end-of-text token, which separates the books")

    config_path = start_dir / "config.json"
    if resuming:
        config = json.loads(config_path.read_text())
        config.pop("model_type")
    else:
        config = dict(
            vocab_size=len(tokenizer), n_embd=args.n_embd, hidden_size=args.hidden_size, n_layer=args.n_layer,
            dropout=args.dropout, context_length=args.context * args.carry,
        )  # fmt: skip
    model = LSTMLanguageModel(**config)
    generation_length = model.context_length  # --carry × --context
    if accelerator.is_main_process and not resuming:
        config_path.write_text(json.dumps(model.config, indent=2) + "\n")

    train_ids = encode_books(tokenizer, train_texts)
    val_sets = validation_sets(tokenizer, val_texts)  # (token ids, bytes) of each held-out book
    if len(train_ids) <= args.context * args.carry:
        raise ValueError(f"only {len(train_ids)} training tokens: fewer than --carry windows of --context")
    parameters = sum(parameter.numel() for parameter in model.parameters())
    described = "; ".join(
        f"{path.name}, {len(ids) - 1:,} tokens, {size:,} bytes" for path, (ids, size) in zip(val_paths, val_sets)
    )
    accelerator.print(
        f"{len(train_paths)} training books, {len(train_ids):,} tokens; validation {described}; "
        f"model {parameters / 1e6:.2f}M parameters"
    )

    def lstm_logits(model, inputs: torch.Tensor) -> torch.Tensor:
        return model(inputs)[0]

    def evaluate_all() -> list[tuple[float, float]]:
        """(nats per token, bits per byte) on each validation book: in windows of --context tokens, as the GPT
        is scored, then in windows of the generation length (--carry × --context), the same tokens per batch."""
        long_batch = max(1, args.batch_size * args.context // generation_length)
        scores = []
        for context, batch_size in [(args.context, args.batch_size), (generation_length, long_batch)]:
            for ids, size in val_sets:
                scores.append(evaluate(model, ids, size, context, batch_size, accelerator, lstm_logits))
        return scores

    # Weight decay on matrices only, not on biases.
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for p in trainable if p.dim() >= 2], "weight_decay": args.weight_decay},
            {"params": [p for p in trainable if p.dim() < 2], "weight_decay": 0.0},
        ],
        lr=args.lr,
        betas=(0.9, 0.99),
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, args.warmup_steps, args.max_steps)
    )
    run.track(model=model, optimizer=optimizer, scheduler=scheduler)
    start_step = run.resume()
    tokens_seen = run.saved.get("tokens_seen", 0)
    history = run.history  # step, train, then per book (suffix "_2" for the second) validation, bits_per_byte
    state = scatter_state(run.saved["lstm_state"], args.batch_size, accelerator) if "lstm_state" in run.saved else None

    # The scheduler is stepped by hand once per step: accelerate's wrapper assumes a sharded data loader.
    model, optimizer = accelerator.prepare(model, optimizer)
    books = len(val_sets)
    suffixes = ["", "_2"][:books]
    scores: list[tuple[float, float]] = []
    tokens_per_step = args.batch_size * args.context * accelerator.num_processes
    session_start, session_tokens = time.time(), 0
    running_loss, running_steps = 0.0, 0
    model.train()
    progress = tqdm(
        range(start_step, args.max_steps),
        initial=start_step,
        total=args.max_steps,
        disable=not run.is_main_process,
    )
    for step in progress:
        # Each process reads its own streams; the seed depends on the step, so a resumed run sees the same ones.
        windows, fresh = stream_windows(
            train_ids, args.batch_size, args.context, args.carry, step, hash((args.seed, accelerator.process_index))
        )
        windows = windows.to(accelerator.device)
        state = restart(state, fresh)
        logits, state = model(windows[:, :-1], state)
        loss = F.cross_entropy(logits.float().flatten(0, 1), windows[:, 1:].flatten())
        update(optimizer, loss, accelerator, clip=1.0)
        scheduler.step()
        loss_value = loss.item()
        running_loss, running_steps = running_loss + loss_value, running_steps + 1
        tokens_seen, session_tokens = tokens_seen + tokens_per_step, session_tokens + tokens_per_step
        done = step + 1
        tokens_per_second = session_tokens / (time.time() - session_start)
        progress.set_postfix(
            loss=f"{loss_value:.3f}", lr=f"{scheduler.get_last_lr()[0]:.2e}", tok_s=f"{tokens_per_second:,.0f}"
        )

        if done % args.eval_every == 0 or done == args.max_steps:
            scores = evaluate_all()
            figures = {"step": done, "train": running_loss / running_steps}
            for suffix, (val_loss, bits) in zip(suffixes, scores[:books]):
                figures |= {"validation" + suffix: val_loss, "bits_per_byte" + suffix: bits}
            for suffix, (_, bits) in zip(suffixes, scores[books:]):
                figures |= {"bits_per_byte_long" + suffix: bits}
            run.log(**figures)
            running_loss, running_steps = 0.0, 0
            if run.is_main_process:
                with torch.random.fork_rng():  # sampling seeds torch: training's own random numbers go on as they were
                    sample = sample_text(accelerator.unwrap_model(model), tokenizer, args.sample_prompt)
                validations = ", ".join(
                    f"{path.stem.split('_')[0]} {loss:.4f} nats/token {bits:.4f} bits/byte ({long:.4f} long)"
                    for path, (loss, bits), (_, long) in zip(val_paths, scores[:books], scores[books:])
                )
                tqdm.write(
                    f"step {done}: train loss {history['train'][-1]:.4f}, validation {validations}, "
                    f"{tokens_seen:,} tokens seen, {tokens_per_second:,.0f} tokens/s\n  sample: {sample!r}"
                )
            curves = {"train": history["train"]}
            for suffix, path in zip(suffixes, val_paths):
                curves[f"validation ({path.stem})"] = history["validation" + suffix]
            plot = {"history": curves, "ylabel": "loss (nats per token)", "steps": history["step"], "xlabel": "step"}
            run.save(done, plot=plot, tokens_seen=tokens_seen, lstm_state=gather_state(state, accelerator))

    if not scores:  # resumed a finished run: just re-export
        scores = evaluate_all()
    metrics, results = {}, {}
    for prefix, suffix, (val_loss, bits), (_, bits_long) in zip(
        ["", "second "], suffixes, scores[:books], scores[books:]
    ):
        metrics[f"{prefix}validation loss (nats per token)"] = round(val_loss, 4)
        metrics[f"{prefix}validation bits per byte"] = round(bits, 4)
        metrics[f"{prefix}validation bits per byte, {generation_length}-token windows"] = round(bits_long, 4)
        results |= {
            "val_loss" + suffix: val_loss,
            "bits_per_byte" + suffix: bits,
            "bits_per_byte_long" + suffix: bits_long,
        }
    metrics["train loss (last interval)"] = round(history["train"][-1], 4) if history.get("train") else None
    if run.is_main_process:
        summary = run_summary(max(start_step, args.max_steps), tokens_seen, session_tokens, session_start)
        data = run_data(train_paths, val_paths, train_ids, val_sets)
        export(accelerator.unwrap_model(model), tokenizer, run, metrics, summary, data)
    return results


# ----------------------------------------------------------------------------------------------
# Export


def export(model: LSTMLanguageModel, tokenizer, run: TrainingRun, metrics: dict, summary: dict, data: dict) -> None:
    """Write the Hub-layout folder with its model card, and push it if asked."""
    args = run.args
    args.out_dir.mkdir(parents=True, exist_ok=True)
    model.eval()
    stored_dtype = save_model(model, args.out_dir)
    tokenizer.model_max_length = model.context_length  # the GPT's tokenizer says 256: the LSTM generates further
    tokenizer.save_pretrained(args.out_dir)
    parameters = sum(parameter.numel() for parameter in model.parameters())
    millions = parameters / 1e6
    tied = model.head.weight is model.embedding.weight
    tokenizer_source = f"the tokenizer of {args.tokenizer}" if args.tokenizer else "a new tokenizer"
    title = f"LSTM language model ({millions:.1f}M parameters) trained from scratch on public-domain novels"
    description = (
        f"An LSTM language model after Liu, *Learn Generative AI with PyTorch*, ch. 8: token embedding "
        f"({model.n_embd} wide) → {model.n_layer}-layer LSTM ({model.hidden_size} wide) → linear head"
        f"{' tied to the embedding' if tied else ''}, dropout {args.dropout}, {millions:.1f}M parameters, with "
        f"{tokenizer_source} ({len(tokenizer)} byte-level BPE tokens). Trained by truncated backpropagation through "
        f"time: windows of {args.context} tokens, the state carried over {args.carry} windows "
        f"({model.context_length} tokens, the length it generates in the app), then started afresh. "
        "Bits per byte = total validation nats / ln 2 / UTF-8 bytes of the validation book: unlike the loss per "
        f"token, it does not depend on the tokenizer. The plain scores read each book in windows of {args.context} "
        "tokens, each from a fresh state, as the suite's GPT-2 is scored; the "
        f"{model.context_length}-token scores read it in longer windows, the state carried through them."
    )
    oversized = [path.name for path in args.out_dir.iterdir() if path.stat().st_size > FILE_LIMIT_BYTES]
    if oversized:
        print(f"Note: {', '.join(oversized)} exceed {FILE_LIMIT_BYTES // 2**20} MiB: push to the Hub, do not ship.")
    where = args.push_to_hub or str(args.out_dir)
    run.publish(
        args.out_dir,
        f"{title}: {metrics}",
        library_name="pytorch",
        title=title,
        description=description,
        license="mit",
        tags=["lstm", "text-generation", "from-scratch", "generative-models-suite"],
        data=describe_data(
            data["train"], data["train_tokens"], data["validation"], data["val_bytes"], args.exclude, args.data_dir
        ),
        training={
            "mode": "from scratch",
            "parameters": f"{parameters:,}",
            "steps": summary["steps"],
            "batch": f"{args.batch_size} streams × {args.context} tokens per process, state carried over "
            f"{args.carry} windows",
            "tokens seen": summary["tokens seen"],
            "optimizer": f"AdamW, peak lr {args.lr}, {args.warmup_steps} warmup steps, cosine to lr/10, "
            f"weight decay {args.weight_decay}, gradient clip 1.0",
            "dropout": args.dropout,
            "weights stored as": stored_dtype,
            "throughput": summary["throughput"],
        },
        metrics=metrics,
        usage=(
            "# in a checkout of the suite (models/lstm.py, models/text.py)\n"
            + ("from huggingface_hub import snapshot_download\n" if args.push_to_hub else "")
            + "from models.text import GenerationSettings, complete, load_text_model\n"
            + (
                f'model = load_text_model(snapshot_download("{where}"))\n'
                if args.push_to_hub
                else f'model = load_text_model("{where}")\n'
            )
            + f'print(complete(model, "{args.sample_prompt}", GenerationSettings(max_new_tokens=60)).full_text)'
        ),
    )


if __name__ == "__main__":
    main()
