"""The novels as training data: finding the books, a GPT-2-style BPE tokenizer trained on them, the books as
one stream of token ids, and random training windows from it. (Preparing each book's text is
`training.prepare_text`.)"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import ByteLevelBPETokenizer
from transformers import GPT2Tokenizer

END_OF_TEXT = "<|endoftext|>"


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
