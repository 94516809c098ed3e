"""Tokens of the ``punct`` level -> text as people write it: "a man , sitting ." -> "a man, sitting.".

The ``punct`` tokeniser (``\\w+|[^\\w\\s]``) forgets where the spaces were, so this is a rendering, not an exact
inverse: a space goes between two tokens unless a rule below removes it. No rule joins two word tokens, so the
``punct`` tokens of the rendered text are the tokens rendered (BLEU of ``seqgan bleu`` on written samples is the
BLEU of their tokens). Rules, for the gap between a token and the next:

* closing marks (``. , ! ? ; : % ) ] }`` ...) take no space before them; opening ones (``( [ { $ #`` ...) none after;
* straight double quotes alternate: the first opens (no space after), the next closes (no space before);
* an apostrophe between a word and a clitic (``s t re ve ll d m``) joins both ("don't", "dog's"); other
  apostrophes alternate like double quotes;
* ``-`` and ``/`` between two word tokens join them ("well-known", "and/or"); ``. , :`` between two digit tokens
  join them ("3.50", "1,000", "10:30"); ``.`` between two single letters of which the second is followed by ``.``
  joins them ("U.S.", "a.m.", "e.g.");
* CJK full-width punctuation takes no space on either side.
"""

from __future__ import annotations

_CLOSE = frozenset(".,!?;:%)]}…’”»")
_OPEN = frozenset("([{$#¿¡“‘«")
_CJK = frozenset("。，、！？；：「」『』（）《》【】〈〉・～")
_CLITICS = frozenset({"s", "t", "re", "ve", "ll", "d", "m"})
_JOINERS = frozenset("-/")
_NUMERIC = frozenset(".,:")


def _word(token: str) -> bool:
    return token[:1].isalnum() or token[:1] == "_"


def detokenize(tokens: list[str]) -> str:
    """One line of text from ``punct`` tokens (see the module's rules)."""
    if not tokens:
        return ""
    # glue[i]: no space between tokens[i - 1] and tokens[i].
    glue = [False] * len(tokens)
    quote_open = {'"': False, "'": False}
    for i, tok in enumerate(tokens):
        prev = tokens[i - 1] if i else ""
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok == "'" and _word(prev) and nxt.lower() in _CLITICS:
            glue[i] = True
            if nxt:
                glue[i + 1] = True
        elif tok in quote_open:
            if quote_open[tok]:
                glue[i] = True  # closing
            elif nxt:
                glue[i + 1] = True  # opening
            quote_open[tok] = not quote_open[tok]
        elif (
            tok in _JOINERS
            and _word(prev)
            and _word(nxt)
            or tok in _NUMERIC
            and prev.isdigit()
            and nxt.isdigit()
            or tok == "."
            and len(prev) == len(nxt) == 1
            and prev.isalpha()
            and nxt.isalpha()
            and tokens[i + 2 : i + 3] == ["."]
        ):
            glue[i] = glue[i + 1] = True
        elif tok in _CJK:
            glue[i] = True
            if nxt:
                glue[i + 1] = True
        else:
            if tok in _CLOSE:
                glue[i] = True
            if tok in _OPEN and nxt:
                glue[i + 1] = True
    glue[0] = True
    return "".join(tok if g else " " + tok for tok, g in zip(tokens, glue, strict=True))
