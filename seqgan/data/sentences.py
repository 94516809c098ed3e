"""Lines of prose -> sentences, for ``prepare --unit sentence``: pysbd (the ``[sentences]`` extra).

pysbd (Sadvilkar and Neumann, 2020) is a rule-based segmenter in pure Python: no model to download, 23 languages,
and rules for abbreviations ("Mr.", "U.S."), numbers ("3.50"), initials, quotes and lists (the Golden Rules set).
Two checks come first, since a segmenter given text it cannot split returns the whole line as one "sentence":
the line's letters must be mostly of a script the chosen language is written in, and no stretch of it may run
:data:`MAX_SENTENCE_CHARS` characters without a sentence mark of any script.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable

from seqgan.errors import UserError
from seqgan.extras import require

# pysbd's languages and the scripts (first word of a letter's Unicode name) their text is written in.
SCRIPTS = {
    **dict.fromkeys(("en", "da", "de", "es", "fr", "it", "nl", "pl", "sk"), ("LATIN",)),
    **dict.fromkeys(("ru", "bg", "kk"), ("CYRILLIC",)),
    **dict.fromkeys(("ar", "fa", "ur"), ("ARABIC",)),
    **dict.fromkeys(("hi", "mr"), ("DEVANAGARI",)),
    "el": ("GREEK",),
    "hy": ("ARMENIAN",),
    "am": ("ETHIOPIC",),
    "my": ("MYANMAR",),
    "zh": ("CJK",),
    "ja": ("CJK", "HIRAGANA", "KATAKANA"),
}
# Longer than any sentence of prose (about 1,500 English words): a line running this far without a sentence mark
# is not prose the segmenter can split (a word list, a dump, a text without punctuation).
MAX_SENTENCE_CHARS = 10_000
_MARKS = re.compile(r"[.!?;。！？．…।॥؟۔።\n]")


def script(text: str) -> str | None:
    """The script most letters of ``text`` are in ("LATIN", "CJK", "THAI", ...); None if it has no letters."""
    counts = Counter(unicodedata.name(ch, "?").split(" ")[0] for ch in text if ch.isalpha())
    return counts.most_common(1)[0][0] if counts else None


def splitter(language: str) -> Callable[[str, str], list[str]]:
    """A function (line, where) -> the line's sentences (stripped, none blank) in ``language`` (a pysbd code);
    ``where`` ("FILE line N") names the line in the UserError of a line it cannot split."""
    if language not in SCRIPTS:
        raise UserError(f"--language {language!r} is not one the segmenter knows: choose one of {', '.join(SCRIPTS)}")
    pysbd = require("pysbd", "prepare --unit sentence")
    segmenter = pysbd.Segmenter(language=language, clean=False)

    def split(line: str, where: str) -> list[str]:
        text = line.strip()
        if not text:
            return []
        found = script(text)
        if found is not None and found not in SCRIPTS[language]:
            known = sorted(code for code, scripts in SCRIPTS.items() if found in scripts)
            fix = f"--language {' or '.join(known)}" if known else "--unit line (no language of the segmenter uses it)"
            raise UserError(
                f"{where} is mostly in {found.title()} script, which the {language!r} sentence rules do not know: "
                f"give {fix}, or remove the line"
            )
        longest = max(map(len, _MARKS.split(text)))
        if longest > MAX_SENTENCE_CHARS:
            raise UserError(
                f"{where} runs {longest:,} characters without a sentence mark (. ! ? and the like): it is not prose "
                f"the segmenter can split; break it into lines and use --unit line"
            )
        return [s.strip() for s in segmenter.segment(text) if s.strip()]

    return split
