"""The novels as training data, for every text model (train_gpt.py, train_lstm.py): the books' flags and the
held-out ones, finding the books, a GPT-2-style BPE tokenizer trained on them, the books as one stream of
token ids, random training windows from it, the bits-per-byte evaluation on a held-out book, and the model
card's paragraph about the data. (Preparing each book's text is `training.prepare_text`.)"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from tokenizers import ByteLevelBPETokenizer
from transformers import GPT2Tokenizer

from training.common import DATA_ROOT
from training.prepare_text import prepare_book

END_OF_TEXT = "<|endoftext|>"
# Kafka's Metamorphosis is the smallest book (119 KB, 1.4% of the corpus), plain narrative prose with no
# front matter, and by an author with no other book in the training set: it measures English, not memory.
VAL_BOOK = "kafka_metamorphosis.txt"
# A second kind of text: Carroll's Alice (144 KB) is a children's fantasy with single-quoted dialogue and nonsense
# verse, by an author with no other book here; small, so holding it out costs the training set little.
SECOND_VAL_BOOK = "carroll_alices_adventures_in_wonderland.txt"
# Not prose: a play in verse, whose line breaks are the text (preparing it as prose would join its verse lines).
NOT_PROSE = ["tinyshakespeare.txt"]


def add_book_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that choose the training and validation books (resolve --val-book2 with `resolve_val_books`)."""
    parser.add_argument("--data-dir", type=Path, default=DATA_ROOT / "text", help="folder of UTF-8 .txt books")
    parser.add_argument("--books", nargs="+", default=["*.txt"], help="glob patterns of the training books")
    parser.add_argument("--val-book", default=VAL_BOOK, help="file name of the book held out for validation")
    parser.add_argument(
        "--val-book2",
        help=f"a second held-out book, another kind of text (default {SECOND_VAL_BOOK} where --data-dir has it; "
        "'none': no second)",
    )
    parser.add_argument(
        "--exclude", nargs="*", default=NOT_PROSE, help=f"file names never trained on (default {' '.join(NOT_PROSE)})"
    )


def resolve_val_books(args: argparse.Namespace) -> None:
    """Set args.val_book2 to the second held-out book's name, or "" for none."""
    if args.val_book2 is None:  # the default, where the data has it (small test folders do not)
        has_default = (args.data_dir / SECOND_VAL_BOOK).is_file() and args.val_book != SECOND_VAL_BOOK
        args.val_book2 = SECOND_VAL_BOOK if has_default else ""
    elif args.val_book2.lower() == "none":
        args.val_book2 = ""


def find_books(
    data_dir: Path, patterns: list[str], val_books: list[str], exclude: list[str] = ()
) -> tuple[list[Path], list[Path]]:
    """The training books matching `patterns` (the validation and excluded books left out), and the validation
    books."""
    val_paths = [data_dir / name for name in val_books]
    for path in val_paths:
        if not path.is_file():
            raise FileNotFoundError(f"validation book {path} not found")
    train_paths = sorted({path for pattern in patterns for path in data_dir.glob(pattern) if path.is_file()})
    train_paths = [path for path in train_paths if path.name not in {*val_books, *exclude}]
    if not train_paths:
        raise FileNotFoundError(
            f"no training books match {patterns} in {data_dir} (besides {', '.join([*val_books, *exclude])})"
        )
    return train_paths, val_paths


def read_books(args: argparse.Namespace) -> tuple[list[Path], list[Path], list[str], list[str]]:
    """The training and validation books of --data-dir (see `add_book_arguments`): their paths, and their texts
    prepared as prose."""
    val_books = [args.val_book] + ([args.val_book2] if args.val_book2 else [])
    train_paths, val_paths = find_books(args.data_dir, args.books, val_books, args.exclude)
    train_texts = [prepare_book(path.read_text(encoding="utf-8")) for path in train_paths]
    val_texts = [prepare_book(path.read_text(encoding="utf-8")) for path in val_paths]
    return train_paths, val_paths, train_texts, val_texts


def train_tokenizer(texts: list[str | Path], vocab_size: int, context: int) -> GPT2Tokenizer:
    """A byte-level BPE like GPT-2's, trained on `texts` (or the files at these paths): any text round-trips."""
    texts = [text.read_text(encoding="utf-8") if isinstance(text, Path) else text for text in texts]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=2, special_tokens=[END_OF_TEXT])
    return GPT2Tokenizer(
        tokenizer_object=bpe._tokenizer,
        bos_token=END_OF_TEXT,
        eos_token=END_OF_TEXT,
        unk_token=END_OF_TEXT,
        model_max_length=context,
    )


def encode_books(tokenizer, texts: list[str]) -> torch.Tensor:
    """All the books as one stream of token ids, each book followed by <|endoftext|>."""
    ids = []
    for text in texts:
        ids += tokenizer.encode(text, add_special_tokens=False, verbose=False) + [tokenizer.eos_token_id]
    return torch.tensor(ids, dtype=torch.long)


def random_windows(ids: torch.Tensor, batch_size: int, context: int, seed: int) -> torch.Tensor:
    """(batch_size, context) windows at random places; the same seed gives the same batch (exact resumes)."""
    generator = torch.Generator().manual_seed(seed)
    starts = torch.randint(len(ids) - context + 1, (batch_size,), generator=generator)
    return torch.stack([ids[start : start + context] for start in starts.tolist()])


def validation_sets(tokenizer, texts: list[str]) -> list[tuple[torch.Tensor, int]]:
    """Each validation book as (token ids, UTF-8 bytes of its text), for `evaluate`.

    Each book follows an <|endoftext|>, as each training book does: every one of its tokens is predicted.
    """
    return [
        (
            torch.tensor([tokenizer.eos_token_id] + tokenizer.encode(text, add_special_tokens=False, verbose=False)),
            len(text.encode("utf-8")),
        )
        for text in texts
    ]


def transformers_logits(model, inputs: torch.Tensor) -> torch.Tensor:
    return model(input_ids=inputs).logits


@torch.no_grad()
def evaluate(
    model,
    val_ids: torch.Tensor,
    val_bytes: int,
    context: int,
    batch_size: int,
    accelerator: Accelerator,
    logits_of: Callable[[torch.nn.Module, torch.Tensor], torch.Tensor] = transformers_logits,
) -> tuple[float, float]:
    """Validation loss in nats per token, and in bits per byte of text, over the whole book (all processes).

    The stream is cut into consecutive windows, so every token is predicted exactly once, from the
    tokens before it in its window (on average half a context): a slight overestimate of the loss.
    `logits_of(model, inputs)` gives the model's (batch, time, vocab) logits: by default a transformers model's.
    """
    model.eval()
    inputs, targets = val_ids[:-1], val_ids[1:]
    padding = -len(inputs) % context
    inputs = F.pad(inputs, (0, padding), value=0).view(-1, context)
    targets = F.pad(targets, (0, padding), value=-100).view(-1, context)  # -100: not a prediction
    total_nats = torch.zeros((), device=accelerator.device, dtype=torch.float64)
    for first in range(accelerator.process_index * batch_size, len(inputs), accelerator.num_processes * batch_size):
        batch_inputs = inputs[first : first + batch_size].to(accelerator.device)
        batch_targets = targets[first : first + batch_size].to(accelerator.device)
        logits = logits_of(model, batch_inputs).float()
        total_nats += F.cross_entropy(logits.flatten(0, 1), batch_targets.flatten(), reduction="sum")
    model.train()
    total_nats = float(accelerator.reduce(total_nats, "sum"))
    return total_nats / (len(val_ids) - 1), total_nats / math.log(2) / val_bytes


def describe_data(
    train_paths: list[Path],
    train_tokens: int,
    val_paths: list[Path],
    val_bytes: list[int],
    exclude: list[str],
    data_dir: Path,
) -> str:
    """The model card's Data section: the books trained on, those held out and left out, and how they were prepared."""
    train_names = [path.name for path in train_paths]
    validation = [f"{path.name} ({size:,} bytes)" for path, size in zip(val_paths, val_bytes)]
    if len(validation) > 1:
        validation = [
            f'the whole of {validation[0]} ("validation")',
            f'and, as a second kind of text, the whole of {validation[1]} ("second validation")',
        ]
    else:
        validation = [f"the whole of {validation[0]}"]
    left_out = [name for name in exclude if (data_dir / name).is_file()]
    why = " (not prose: a play in verse, whose line breaks are the text)" if left_out == NOT_PROSE else ""
    excluded = f" Left out: {', '.join(left_out)}{why}." if left_out else ""
    return (
        f"{len(train_names)} training books ({train_tokens:,} tokens, each followed by {END_OF_TEXT}): "
        f"{', '.join(train_names)}. Validation: {' '.join(validation)}, never trained on.{excluded} "
        "Every book is prepared as prose by training/prepare_text.py: one line per paragraph and a blank line "
        "between paragraphs (Gutenberg's hard wrapping undone), front matter removed, spaces normalised, "
        "dashes and quotes made consistent within each book; bits per byte are per byte of the prepared text. "
        "The books are in the public domain in the United States: Project Gutenberg texts without the "
        "Gutenberg header and license."
    )


def run_data(
    train_paths: list[Path], val_paths: list[Path], train_ids: torch.Tensor, val_sets: list[tuple[torch.Tensor, int]]
) -> dict:
    """What a text model card says about its data: the books, training tokens and validation bytes."""
    val_bytes = [size for _, size in val_sets]
    return {"train": train_paths, "validation": val_paths, "train_tokens": len(train_ids), "val_bytes": val_bytes}


def run_summary(steps: int, tokens_seen: int, session_tokens: int, session_start: float) -> dict[str, str | int]:
    """The model card's training rows a text run adds: steps, tokens seen, and this session's throughput."""
    throughput = "-"
    if session_tokens:
        throughput = f"{session_tokens / (time.time() - session_start):,.0f} tokens/s, evaluations included"
    return {"steps": steps, "tokens seen": f"{tokens_seen:,}", "throughput": throughput}
