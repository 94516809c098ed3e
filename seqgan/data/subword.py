"""Subword vocabularies (``prepare --level bpe|unigram``, ``prepare --tokenizer FILE``) through Hugging Face
``tokenizers`` (the ``[subword]`` extra): trained here in seconds, no download, saved as one JSON object.

A tokenizer trained here splits text at spaces, keeping each space as "▁" at the start of the piece after it
(the sentencepiece convention), and puts punctuation marks in pieces of their own; the pieces come from a BPE or
a Unigram model trained on the training split alone. Decoding joins the pieces and turns "▁" back into spaces, so
decoding the pieces of a text gives the text back exactly (given its characters were seen in training: an unseen
character is ``<unk>``). A user's tokenizer (``--tokenizer``, any ``tokenizer.json`` that ``tokenizers`` saves:
BPE, Unigram, WordPiece, byte-level) is used as it is, its own special tokens left out of the pieces.

The tokenizer's JSON is stored inside ``vocab.json``, so it travels wherever the vocabulary goes (runs, forks,
exports) and a run decodes its samples without any other file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seqgan.errors import UserError
from seqgan.extras import require

TRAINED = ("bpe", "unigram")  # --level values that train a tokenizer here
SUBWORD_LEVELS = (*TRAINED, "subword")  # "subword": a user's tokenizer (--tokenizer FILE)
UNK_PIECE = "<unk>"  # a trained tokenizer's unknown piece: the same string as the vocabulary's UNK
_WHAT = "subword vocabularies (--level bpe / unigram, --tokenizer)"


def _lib() -> Any:
    return require("tokenizers", _WHAT)


def train_tokenizer(texts: list[str], model: str, vocab_size: int) -> dict[str, Any]:
    """A ``model`` ("bpe" or "unigram") tokenizer of ``vocab_size`` - 4 pieces (beside the 4 specials of the
    vocabulary, ``<unk>`` shared) trained on ``texts``; its JSON object. A size the texts cannot give (fewer
    pieces than their distinct characters, or more than every merge yields) is a UserError naming the bounds."""
    lib = _lib()
    size = vocab_size - 3  # the tokenizer's own vocabulary holds <unk> too
    if model == "bpe":
        tok = lib.Tokenizer(lib.models.BPE(unk_token=UNK_PIECE))
        trainer = lib.trainers.BpeTrainer(vocab_size=size, special_tokens=[UNK_PIECE], show_progress=False)
    else:
        tok = lib.Tokenizer(lib.models.Unigram())
        trainer = lib.trainers.UnigramTrainer(
            vocab_size=size, special_tokens=[UNK_PIECE], unk_token=UNK_PIECE, show_progress=False
        )
    tok.pre_tokenizer = lib.pre_tokenizers.Sequence([lib.pre_tokenizers.Metaspace(), lib.pre_tokenizers.Punctuation()])
    tok.decoder = lib.decoders.Metaspace()
    alphabet = len({ch for text in texts for ch in text.replace(" ", "▁")})
    try:
        tok.train_from_iterator(texts, trainer)
    except Exception as e:  # noqa: BLE001 - the library's words for a vocabulary smaller than the alphabet
        if "not large enough" not in str(e):
            raise
        got = alphabet + 1
    else:
        got = tok.get_vocab_size()
    if got > size:
        raise UserError(
            f"--vocab-size {vocab_size} cannot hold the {alphabet} distinct characters of the training split (each "
            f"is a piece, beside the 4 specials): give --vocab-size {got + 3} or more"
        )
    if got < size:
        raise UserError(
            f"--vocab-size {vocab_size} is more than the training split supports: a {model} model of it has at "
            f"most {got + 3} tokens with the 4 specials; give --vocab-size {got + 3} or less, or more text"
        )
    return json.loads(tok.to_str())


def read_tokenizer(path: str | Path) -> dict[str, Any]:
    """The JSON object of a user's tokenizer file, checked by loading it; anything else is a UserError."""
    lib = _lib()
    hint = "give a tokenizer.json saved by Hugging Face tokenizers (Tokenizer.save)"
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--tokenizer {path} is not a file: {hint}")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
        lib.Tokenizer.from_str(json.dumps(obj))
    except Exception as e:  # noqa: BLE001 - not UTF-8, not JSON, or JSON the library refuses: one message
        raise UserError(f"--tokenizer {path} is not a tokenizer ({type(e).__name__}): {hint}") from None
    return obj


class Subword:
    """A tokenizer's two directions on text: text -> pieces, pieces -> text."""

    def __init__(self, obj: dict[str, Any]) -> None:
        lib = _lib()
        try:
            self._tok = lib.Tokenizer.from_str(json.dumps(obj))
        except Exception as e:  # noqa: BLE001 - a damaged vocab.json
            raise UserError(
                f"the tokenizer stored in vocab.json is damaged ({type(e).__name__}): prepare the data again"
            ) from None
        self.special = {t.content for t in self._tok.get_added_tokens_decoder().values() if t.special}

    def pieces(self, text: str) -> list[str]:
        """The pieces of ``text``, without the tokenizer's own special tokens (a user's [CLS] / [SEP]) except its
        unknown piece."""
        enc = self._tok.encode(text, add_special_tokens=False)
        return [p for p in enc.tokens if p not in self.special or p == UNK_PIECE]

    def text(self, pieces: list[str]) -> str:
        """Text from pieces: the tokenizer's decoder (spaces from "▁", bytes from byte-level pieces)."""
        decoder = self._tok.decoder
        return decoder.decode(pieces) if decoder is not None else " ".join(pieces)
