"""Turn Project Gutenberg books into prose: one line per paragraph, a blank line between paragraphs.

Gutenberg texts are hard-wrapped at 65-75 characters, and a language model trained on them learns the
line breaks along with the English. `prepare_book` undoes the layout and keeps the words:

1. Characters: CRLF and CR become LF; tabs, non-breaking and other odd spaces become plain spaces;
   byte-order marks and zero-width spaces go.
2. Gutenberg's own text goes: the header up to `*** START OF THE PROJECT GUTENBERG EBOOK ... ***`, the
   footer from `*** END OF ...` (or `End of the Project Gutenberg EBook`), a `Produced by` credit,
   transcriber's notes, and `[Illustration]` markers.
3. Front matter goes: title page, copyright page, contents and dedication, i.e. the centred blocks and
   lists of short lines before the first block set at the left margin.
4. Each block of lines between blank lines becomes one paragraph:
   - wrapped prose is joined into one line: a line that reaches close to the page width was broken only
     because the next word did not fit;
   - a short line (a heading, a line of a list, a letter's greeting) keeps its line break, and so does
     indented verse (the lines at the block's left edge all start with a capital, as poems are
     printed); indentation goes; a chapter heading stays a paragraph of its own;
   - a row of asterisks or a rule of dashes (a section break) becomes `* * *`.
5. Inside a paragraph, runs of spaces become one (the double space after a full stop too), and italics
   marked `_like this_` lose their underscores: Gutenberg's markup, not the author's.
6. Dashes and quotes stay as the author (or the edition) wrote them, made consistent within the book: the
   dash forms the book rarely uses (`--`, `—`, a spaced ` - `) become the one it mostly uses, and curly
   quotes in a straight-quoted book are straightened (straight ones in a curly book are curled). Nothing
   is converted wholesale.

Text that is already one paragraph per line (lines longer than 100 characters) is left as it is, so
`prepare_book` can run twice. Plays and poems, whose line breaks are the text (tinyshakespeare.txt),
are not prose: the training script leaves them out rather than pass them through here.

    python -m training.prepare_text --out-dir /tmp/prose     # prepared copies of every book, to read
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

from training.common import DATA_ROOT

# A line at least this fraction of the page width long was broken only because the next word did not fit.
FULL_LINE = 0.6
# Lines longer than this are paragraphs already, not lines of a page.
MAX_WRAP_WIDTH = 100
SECTION_BREAK = "* * *"

GUTENBERG_START = re.compile(r"^\*\*\* ?START OF (THE|THIS) PROJECT GUTENBERG.*$", re.IGNORECASE | re.MULTILINE)
GUTENBERG_END = re.compile(
    r"^(\*\*\* ?END OF (THE|THIS) PROJECT GUTENBERG|End of (the )?Project Gutenberg).*", re.IGNORECASE | re.MULTILINE
)
BRACKETED_NOTE = re.compile(r"\[(Transcriber.s Notes?|(Cover )?Illustration)\b[^\]]*\]\n?", re.IGNORECASE)
NOTE_HEADING = re.compile(r"Transcriber.s Notes?\b", re.IGNORECASE)
CREDIT = re.compile(r"(Produced by|E-?text prepared by)\b", re.IGNORECASE)
ITALICS = re.compile(r"(?<![\w_])_([^_]+?)_(?![\w_])")
SECTION_BREAK_LINE = re.compile(r"[*\-=_~ ]*")

# The dash forms, each matched alone (not the `----` of a blanked-out name, nor the `——` of an oath).
DASHES = {
    "--": re.compile(r" ?(?<!-)--(?!-) ?"),
    "—": re.compile(r" ?(?<!—)—(?!—) ?"),
    " - ": re.compile(r" [-–] "),
}


# ----------------------------------------------------------------------------------------------
# The steps


def normalise_characters(text: str) -> str:
    """LF line ends, plain spaces, no trailing spaces, no invisible characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "").replace("\u200b", "")
    text = text.expandtabs(8)
    text = re.sub(r"[^\S\n]", " ", text)  # non-breaking, thin, em... spaces: Unicode whitespace but not a newline
    return "\n".join(line.rstrip() for line in text.split("\n"))


def strip_gutenberg(text: str) -> str:
    """Remove Project Gutenberg's header, footer, credits, transcriber's notes and illustration markers."""
    start = GUTENBERG_START.search(text)
    if start:
        text = text[start.end() :]
    end = GUTENBERG_END.search(text)
    if end:
        text = text[: end.start()]
    text = BRACKETED_NOTE.sub("", text)
    kept: list[list[str]] = []
    note_follows = False
    for block in split_blocks(text):
        first = block[0].strip()
        if note_follows:  # the note under a "Transcriber's Notes" heading
            note_follows = False
        elif NOTE_HEADING.match(first):
            note_follows = len(block) == 1
        elif not kept and CREDIT.match(first):  # "Produced by ...", before the book begins
            continue
        else:
            kept.append(block)
    return "\n\n".join("\n".join(block) for block in kept)


def split_blocks(text: str) -> list[list[str]]:
    """The blocks of non-blank lines between blank lines, each a list of lines (indentation kept)."""
    blocks = re.split(r"\n\s*\n", text.strip("\n"))
    return [block.split("\n") for block in blocks if block.strip()]


def wrap_width(blocks: list[list[str]]) -> int | None:
    """The page width the text is wrapped to (a long line's length), or None if it is not hard-wrapped."""
    lengths = sorted(len(line) for block in blocks for line in block)
    if not lengths:
        return None
    width = lengths[int(0.99 * (len(lengths) - 1))]  # nearly the longest: a few lines overshoot the margin
    return width if width <= MAX_WRAP_WIDTH else None


def is_indented(line: str) -> bool:
    """Set off from the margin: one leading space is only a wrapped double space, two or more are layout."""
    return line.startswith("  ")


def is_full(line: str, width: int) -> bool:
    """Long enough that the line was broken only because the next word did not fit."""
    return len(line.strip()) >= FULL_LINE * width


def drop_front_matter(blocks: list[list[str]], width: int) -> list[list[str]]:
    """Drop the title page, copyright page, contents and dedication at the start of a book.

    These files centre their front matter: it is the blocks set in from the margin, and lists of short
    lines (a table of contents), before the first block at the margin. A heading at the margin stays.
    If that run of blocks is long (over a tenth of the book, or ten blocks in a short text), it is the
    book's own layout, not front matter, and stays too.
    """
    for index, block in enumerate(blocks):
        centred = any(line.startswith(" ") for line in block)
        listing = len(block) >= 2 and not any(is_full(line, width) for line in block)
        if not (centred or listing):
            return blocks[index:] if index <= max(10, len(blocks) // 10) else blocks
    return blocks


def starts_with_capital(line: str) -> bool:
    """The first letter is not lower case ('Twas, "And ..., --THE FAERIE QUEENE all count)."""
    first_letter = next((char for char in line if char.isalpha()), "")
    return not first_letter.islower()


def is_verse(lines: list[str]) -> bool:
    """Indented lines whose leftmost ones all start with a capital, as poems are printed.

    Indented prose (a letter quoted in full) has lines starting in lower case; a poem's run-on lines
    are indented deeper, so only the lines at the block's left edge are looked at.
    """
    if len(lines) < 2 or not all(is_indented(line) for line in lines):
        return False
    edge = min(len(line) - len(line.lstrip()) for line in lines)
    leftmost = [line for line in lines if len(line) - len(line.lstrip()) == edge]
    return len(leftmost) >= 2 and all(starts_with_capital(line) for line in leftmost)


def is_section_break(lines: list[str]) -> bool:
    """A row of asterisks or a rule of dashes: `* * * * *`, `*****`, `-----------`."""
    text = "".join(lines)
    return len(lines) == 1 and len(text.replace(" ", "")) >= 3 and SECTION_BREAK_LINE.fullmatch(text) is not None


def join_lines(lines: list[str], width: int) -> str:
    """Lines broken by the wrap joined: after a full line, a space (none after a closed dash or a hyphen);
    after a short line (a heading, a line of a list, a letter's greeting) the line break stays."""
    joined = lines[0].strip()
    for previous, line in zip(lines, lines[1:]):
        line = line.strip()
        if not is_full(previous, width):
            joined += "\n" + line
        elif re.search(r"\S(--|—|-)$", joined) or re.match(r"(--|—)\S", line):
            joined += line
        else:
            joined += " " + line
    return joined


def block_to_paragraph(lines: list[str], width: int | None) -> str:
    """One block of lines as one paragraph: prose joined, verse and short lines kept, breaks as `* * *`."""
    if is_section_break(lines):
        return SECTION_BREAK
    if width is None or is_verse(lines):  # the line breaks are the author's
        return "\n".join(line.strip() for line in lines)
    return join_lines(lines, width)


def tidy_paragraph(paragraph: str) -> str:
    """One space between words (double spaces after full stops too), no italic underscores."""
    paragraph = re.sub(r" {2,}", " ", paragraph)
    return ITALICS.sub(r"\1", paragraph).strip()


def change_dash(dash: str, form: str, usual: str) -> str:
    """`dash` (of `form`, with any spaces around it) in the `usual` form: a spaced dash's spaces go with it."""
    if usual == " - " or form == " - ":
        return usual
    return dash.replace(form, usual)  # `--` and `—` keep the spacing they had


def consistent_dashes(text: str) -> str:
    """Write every dash in the form the book uses most: `--`, `—` or a spaced ` - `."""
    counts = Counter({form: len(pattern.findall(text)) for form, pattern in DASHES.items()})
    usual, usual_count = counts.most_common(1)[0]
    if usual_count == 0:
        return text
    for form, pattern in DASHES.items():
        if form != usual and counts[form]:
            text = pattern.sub(lambda match, form=form: change_dash(match[0], form, usual), text)
    return text


def consistent_quotes(text: str) -> str:
    """Quotes as the book mostly writes them: the few curly ones straightened, or the few straight ones curled."""
    for straight, opening, closing in [('"', "“", "”"), ("'", "‘", "’")]:
        curly = text.count(opening) + text.count(closing)
        if text.count(straight) >= curly:
            text = text.replace(opening, straight).replace(closing, straight)
        else:  # opening after a space, a bracket or a dash, or at the start of a line; closing elsewhere
            text = re.sub(rf"(?<=[\s(\[—-]){straight}|^{straight}", opening, text, flags=re.MULTILINE)
            text = text.replace(straight, closing)
    return text


# ----------------------------------------------------------------------------------------------
# The whole


def prepare_book(text: str) -> str:
    """A Gutenberg book as prose: one line per paragraph, a blank line between paragraphs (see the module doc)."""
    text = strip_gutenberg(normalise_characters(text))
    blocks = split_blocks(text)
    width = wrap_width(blocks)
    if width is not None:
        blocks = drop_front_matter(blocks, width)
    paragraphs = [tidy_paragraph(block_to_paragraph(block, width)) for block in blocks]
    text = "\n\n".join(paragraph for paragraph in paragraphs if paragraph)
    return consistent_quotes(consistent_dashes(text)) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DATA_ROOT / "text", help="folder of UTF-8 .txt books")
    parser.add_argument("--books", nargs="+", default=["*.txt"], help="glob patterns of the books")
    parser.add_argument("--out-dir", type=Path, required=True, help="where the prepared copies go")
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    paths = sorted({path for pattern in args.books for path in args.data_dir.glob(pattern) if path.is_file()})
    for path in paths:
        before = path.read_text(encoding="utf-8")
        after = prepare_book(before)
        (args.out_dir / path.name).write_text(after, encoding="utf-8")
        print(
            f"{path.name}: {len(before):,} → {len(after):,} characters, "
            f"{before.count(chr(10)):,} → {after.count(chr(10)):,} line breaks, "
            f"{after.count(chr(10) * 2) + 1:,} paragraphs"
        )


if __name__ == "__main__":
    main()
