"""Text preparation: a small hard-wrapped Gutenberg-style book (invented here) in, prose out."""

from __future__ import annotations

from training.prepare_text import consistent_dashes, consistent_quotes, prepare_book

# As Gutenberg ships a book: licence header, credit, centred title page and contents, text wrapped at
# about 70 characters, two spaces after full stops, _italics_, a transcriber's note, an indented letter
# and verse, a section break, a footer; CRLF line ends and a non-breaking space in "Mr. Pell".
WRAPPED = """\
The Project Gutenberg eBook of The Lamplighter, by Ann Example

This eBook is for the use of anyone anywhere in the United States and
most other parts of the world at no cost and with almost no restrictions.

*** START OF THE PROJECT GUTENBERG EBOOK THE LAMPLIGHTER ***

Produced by A. Volunteer and the Online Distributed Proofreading Team

                             THE LAMPLIGHTER

                              by Ann Example

                                CONTENTS

                           I.   The Lamp
                           II.  The Letter

CHAPTER I.  The Lamp

It was late in the evening when Mr.\u00a0Pell came up the hill.  He
carried his ladder on one shoulder and a can of oil in the other hand,
and he whistled as he went--a tune that nobody in the village knew,
not even the widow—who knew everything.

"Good evening," said the widow at the gate.  "You are _very_ late
to-night."

                   *       *       *       *       *

CHAPTER II.  The Letter

[Transcriber's Note: the letter below is printed as in the original.]

     "Dear Sir,--I write to say that the lamp at the corner of Mill
     Lane has not been lit these three nights, and that the parish
     expects better of you.

     "Yours, etc."

She sang as she walked, and the lamps came on behind her one by one:

     Over the hill and over the lea, and down by the mill-race wide,
       The lamps are lit for the travellers, and the lovers who hide;
     Over the hill and over the lea, the lamplighter goes on his way,
       And never a soul in the village knows what he has to say.

*** END OF THE PROJECT GUTENBERG EBOOK THE LAMPLIGHTER ***

Updating the editions will replace the previous one.
""".replace("\n", "\r\n")

PROSE = """\
CHAPTER I. The Lamp

It was late in the evening when Mr. Pell came up the hill. He carried his ladder on one shoulder \
and a can of oil in the other hand, and he whistled as he went--a tune that nobody in the village knew, \
not even the widow--who knew everything.

"Good evening," said the widow at the gate. "You are very late to-night."

* * *

CHAPTER II. The Letter

"Dear Sir,--I write to say that the lamp at the corner of Mill Lane has not been lit these three nights, \
and that the parish expects better of you.

"Yours, etc."

She sang as she walked, and the lamps came on behind her one by one:

Over the hill and over the lea, and down by the mill-race wide,
The lamps are lit for the travellers, and the lovers who hide;
Over the hill and over the lea, the lamplighter goes on his way,
And never a soul in the village knows what he has to say.
"""


def test_a_wrapped_gutenberg_book_becomes_prose():
    assert prepare_book(WRAPPED) == PROSE


def test_paragraphs_are_one_line_each_with_a_blank_line_between():
    prose = prepare_book(WRAPPED)
    paragraphs = prose.rstrip("\n").split("\n\n")
    assert len(paragraphs) == 9
    assert all("\n" not in paragraph for paragraph in paragraphs[:-1])  # only the verse keeps its lines
    assert "\r" not in prose and "\u00a0" not in prose and "  " not in prose and "\n\n\n" not in prose


def test_gutenberg_text_front_matter_and_notes_are_removed():
    prose = prepare_book(WRAPPED)
    for gone in ["Gutenberg", "eBook", "Produced by", "CONTENTS", "Ann Example", "Transcriber", "Updating"]:
        assert gone not in prose


def test_headings_stay_paragraphs_of_their_own():
    paragraphs = prepare_book(WRAPPED).split("\n\n")
    assert paragraphs[0] == "CHAPTER I. The Lamp" and "CHAPTER II. The Letter" in paragraphs


def test_short_lines_keep_their_breaks_and_a_closed_dash_joins_without_a_space():
    letter = (
        "My dear Tom,\n\n"
        "I have your letter of the ninth, and I answer it at once, as you asked--\n"
        "though I have little enough to tell you, for nothing happens here from\n"
        "one week to the next, and the rain has not stopped since Sunday, or\n"
        "was it Monday?\n"
        "Yours ever,\n"
        "Jane\n"
    )
    assert prepare_book(letter) == (
        "My dear Tom,\n\n"
        "I have your letter of the ninth, and I answer it at once, as you asked--though I have little enough "
        "to tell you, for nothing happens here from one week to the next, and the rain has not stopped since "
        "Sunday, or was it Monday?\nYours ever,\nJane\n"
    )


def test_dashes_take_the_form_the_book_uses_most():
    spaced = "He stopped - he had to - and then, only then--he went on. A - B - C."
    assert consistent_dashes(spaced) == "He stopped - he had to - and then, only then - he went on. A - B - C."
    closed = "He stopped--he had to--and then—only then—he went on, and -- once -- more."
    assert consistent_dashes(closed) == "He stopped--he had to--and then--only then--he went on, and -- once -- more."
    blanked = "The officers of the ----shire--all of them--and a word I cannot write: ——."
    assert consistent_dashes(blanked) == blanked  # a blanked-out name and an oath are not dashes


def test_quotes_are_left_alone_unless_a_few_disagree():
    straight = "\"Don't,\" she said. 'Why not?'"
    assert consistent_quotes(straight) == straight  # no straight quote is curled wholesale
    curly = '“Don’t,” she said. “Why not?” ‘Because.’ “Well,” he said, "I won\'t."'
    assert consistent_quotes(curly) == "“Don’t,” she said. “Why not?” ‘Because.’ “Well,” he said, “I won’t.”"
    mostly_straight = '"Don\'t," she said. "Why not?" "Because." “Well.”'
    assert consistent_quotes(mostly_straight) == '"Don\'t," she said. "Why not?" "Because." "Well."'


def test_prepared_text_is_left_as_it_is():
    prose = prepare_book(WRAPPED)
    assert prepare_book(prose) == prose
    unwrapped = ("A paragraph that was never wrapped, " * 5).strip() + "\n\nAnd a second one.\n"
    assert prepare_book(unwrapped) == unwrapped
