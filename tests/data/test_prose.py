"""Prose in, text out: sentences (pysbd), subword vocabularies (tokenizers), written-text rendering."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
import torch
from helpers import ok, user_error

from seqgan.data.detok import detokenize
from seqgan.data.prepared import load_prepared
from seqgan.data.vocab import Vocab, tokenize
from seqgan.eval.bleu import bleu, self_bleu
from seqgan.eval.metrics import evaluate_samples

pytest.importorskip("pysbd")
tokenizers = pytest.importorskip("tokenizers")

# Four paragraphs, eleven sentences (counted by hand): abbreviations, initials, quotes, money, decimals, times.
PROSE = [
    ["Mr. Smith went to the U.S. in 1999.", 'He paid $3.50 for "a coffee."', "Then he left!"],
    ["The dog barked.", '"Stop it," said Mrs. Jones.', "It did not stop."],
    ["Dr. Brown lives at No. 5 Baker St. in London.", "She has 2.5 cats?", "No, she has three."],
    ["We met at 10 a.m. on Monday.", "It rained all day."],
]
CHINESE = [
    ["我喜欢读书。", "你呢？", "今天天气很好！", "我们走吧。"],
    ["床前明月光，疑是地上霜。", "举头望明月，低头思故乡。"],
]


def _write(tmp_path: Path, paragraphs: list[list[str]], name: str = "prose.txt", blank: bool = True) -> Path:
    path = tmp_path / name
    lines = [" ".join(p) for p in paragraphs]
    if blank:
        lines.insert(1, "")  # a blank line is counted, never a sentence
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _prepare(capsys, src: Path, out: Path, *flags: str) -> dict:
    return json.loads(ok(capsys, ["prepare", str(src), "--out", str(out), *flags, "--json"]).splitlines()[-1])


def test_sentences_counted_by_hand(tmp_path: Path, capsys):
    src = _write(tmp_path, PROSE)
    flags = ("--unit", "sentence", "--test-frac", "0", "--valid-frac", "0")
    report = _prepare(capsys, src, tmp_path / "d", *flags)
    assert (report["lines_read"], report["lines_kept"], report["sentences"], report["sentences_kept"]) == (5, 4, 11, 11)
    assert report["dropped"] == {"blank": 1, "too_long": 0} and report["train_size"] == 11
    d = load_prepared(tmp_path / "d")
    assert [d.vocab.text(r) for r in d.train] == sum(PROSE, [])  # word level: the sentences exactly
    # --max-len counts sentences: the two longest (10 and 8 words) go
    report = _prepare(capsys, src, tmp_path / "d", *flags, "--max-len", "7", "--force")
    assert report["dropped"]["too_long"] == 2 and report["sentences_kept"] == 9 and report["lines_kept"] == 4
    zh = _write(tmp_path, CHINESE, "zh.txt", blank=False)
    report = _prepare(capsys, zh, tmp_path / "z", *flags, "--language", "zh", "--level", "char")
    assert report["sentences"] == 6
    assert [load_prepared(tmp_path / "z").vocab.text(r) for r in load_prepared(tmp_path / "z").train] == sum(
        CHINESE, []
    )


def test_splits_are_drawn_by_paragraph(tmp_path: Path, capsys):
    letters = "abcdefghijklmnopqrst"  # paragraph k: sentences naming letters[k], and one with every letter
    paragraphs = [[f"{c} opens here.", f"{c} goes on.", f"All of {letters}."] for c in letters]
    src = _write(tmp_path, paragraphs, blank=False)
    flags = ("--unit", "sentence", "--level", "char", "--test-frac", "0.2", "--valid-frac", "0.25")
    report = _prepare(capsys, src, tmp_path / "d", *flags)
    assert (report["test_size"], report["valid_size"], report["train_size"]) == (12, 12, 36)  # 4, 4, 12 paragraphs
    d = load_prepared(tmp_path / "d")
    owner = {}
    for split, rows in (("train", d.train), ("valid", d.valid), ("test", d.test)):
        for row in rows:
            if not (text := d.vocab.text(row)).startswith("All"):
                owner.setdefault(text.split()[0], set()).add(split)
    assert len(owner) == 20 and all(len(splits) == 1 for splits in owner.values())


@pytest.mark.parametrize("level", ["bpe", "unigram"])
def test_subword_encode_decode_gives_the_text_back(tmp_path: Path, capsys, level: str):
    src = _write(tmp_path, PROSE * 3, blank=False)
    flags = ("--unit", "sentence", "--level", level, "--test-frac", "0", "--valid-frac", "0")
    report = _prepare(capsys, src, tmp_path / "d", *flags, "--vocab-size", "70")
    d = load_prepared(tmp_path / "d")
    assert report["vocab_size"] == d.vocab_size == 70 and report["unk_rate"] == 0
    assert [d.vocab.text(r) for r in d.train] == sum(PROSE, []) * 3
    vocab = Vocab.load(tmp_path / "d" / "vocab.json")  # the tokenizer travels inside vocab.json
    line = 'Mrs. Brown paid $3.50, "then" left!'
    assert vocab.text(vocab.encode(line)) == line
    assert vocab.words(vocab.encode(line)) == tokenize(line, "punct")  # what BLEU counts: words and marks
    assert vocab.decode(vocab.encode("Then he left!")).split(" ")[-1] == "!"  # the token view: pieces apart


def test_subword_tokenizer_learns_from_the_training_split_alone(tmp_path: Path, capsys):
    paragraphs = [[f"Para{k} opens here.", "It goes on."] for k in range(10)]
    paragraphs[3] = ["Zebra quizzes vex.", "It goes on."]  # the only Z, q, x and v of the file
    src = _write(tmp_path, paragraphs, blank=False)
    flags = ["--unit", "sentence", "--level", "bpe", "--vocab-size", "40", "--seed", "0"]
    for seed in range(20):  # a seed that holds paragraph 3 out
        flags[-1] = str(seed)
        report = _prepare(capsys, src, tmp_path / "d", *flags, "--test-frac", "0.1", "--valid-frac", "0", "--force")
        d = load_prepared(tmp_path / "d")
        if "Zebra" not in "".join(d.vocab.text(r) for r in d.train):
            break
    assert not set("Zqxv") & set("".join(d.vocab.tokens)) and report["test_unk_rate"] > 0


def test_your_own_tokenizer(tmp_path: Path, capsys):
    lib = tokenizers
    tok = lib.Tokenizer(lib.models.WordPiece(unk_token="[UNK]"))
    tok.pre_tokenizer = lib.pre_tokenizers.Whitespace()
    tok.decoder = lib.decoders.WordPiece()
    trainer = lib.trainers.WordPieceTrainer(vocab_size=200, special_tokens=["[UNK]", "[CLS]"])
    tok.train_from_iterator(sum(PROSE, []), trainer)
    tok.save(str(tmp_path / "tokenizer.json"))
    src = _write(tmp_path, PROSE, blank=False)
    report = _prepare(capsys, src, tmp_path / "d", "--tokenizer", str(tmp_path / "tokenizer.json"), "--test-frac", "0")
    d = load_prepared(tmp_path / "d")
    assert d.vocab.level == "subword" and "[CLS]" not in d.vocab.tokens and report["vocab_size"] == d.vocab_size
    assert d.vocab.text(d.vocab.encode("the dog barked")) == "the dog barked"


def test_prose_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, capsys):
    src = _write(tmp_path, PROSE, blank=False)
    out = tmp_path / "never"
    base = ["prepare", str(src), "--out", str(out)]
    run_on = tmp_path / "run_on.txt"
    run_on.write_text("Fine. " + " ".join(["word"] * 100_000) + "\n")
    zh = _write(tmp_path, CHINESE, "zh.txt", blank=False)
    not_json, foreign = tmp_path / "t.txt", tmp_path / "t.json"
    not_json.write_text("not a tokenizer\n")
    foreign.write_text('{"model": {"type": "BPE"}}\n')
    cases = {
        "without a sentence mark": ["prepare", str(run_on), "--out", str(out), "--unit", "sentence"],
        "mostly in Cjk script": ["prepare", str(zh), "--out", str(out), "--unit", "sentence"],
        "is not one the segmenter knows": [*base, "--unit", "sentence", "--language", "xx"],
        "more than the training split supports": [*base, "--level", "bpe", "--vocab-size", "100000"],
        "cannot hold the": [*base, "--level", "bpe", "--vocab-size", "10"],
        "give --vocab-size V": [*base, "--level", "unigram"],
        "--tokenizer .* is not a tokenizer": [*base, "--tokenizer", str(not_json)],
        "is not a tokenizer": [*base, "--tokenizer", str(foreign)],
        "drop --level": [*base, "--tokenizer", str(foreign), "--level", "bpe"],
    }

    for pattern, argv in cases.items():
        err = user_error(capsys, argv)
        assert re.search(pattern, err), (pattern, err)
        assert not out.exists(), pattern
    assert "--language ja or zh" in user_error(capsys, cases["mostly in Cjk script"])


def test_detokenize_spaces_marks_as_written_text():
    cases = {
        "a man , sitting on a bench .": "a man, sitting on a bench.",
        'he said " i don \' t know " and left ( quickly ) !': 'he said "i don\'t know" and left (quickly)!',
        "it costs $ 3 . 50 , or 1 , 000 yen at 10 : 30 .": "it costs $3.50, or 1,000 yen at 10:30.",
        "a well - known dog ' s bone and / or cat": "a well-known dog's bone and/or cat",
        "mr . smith went to the u . s . in 1999 .": "mr. smith went to the u.s. in 1999.",
        "我 喜欢 ， 你 呢 ？": "我 喜欢，你 呢？",
        "": "",
    }
    for tokens, text in cases.items():
        assert detokenize(tokens.split(" ") if tokens else []) == text
    # No rule joins two words: the punct tokens of the text are the tokens rendered.
    rng = random.Random(0)
    alphabet = ["a", "dog", "3", "50", "s", "t", ".", ",", "'", '"', "-", "/", "(", ")", "$", ":", "!", "。", "U"]
    for _ in range(2000):
        tokens = [rng.choice(alphabet) for _ in range(rng.randint(1, 12))]
        assert tokenize(detokenize(tokens), "punct") == tokens, tokens


def test_subword_bleu_counts_words(tmp_path: Path, capsys):
    src = _write(tmp_path, PROSE * 3, blank=False)
    _prepare(capsys, src, tmp_path / "d", "--unit", "sentence", "--level", "bpe", "--vocab-size", "90")
    vocab = Vocab.load(tmp_path / "d" / "vocab.json")
    from seqgan.models import Generator

    torch.manual_seed(0)
    g = Generator(vocab.vocab_size, 4, 4, start_token=1, eos_token=2, pad_token=0)
    texts = ["Then he left!", "The dog barked.", "It did not stop.", "She has three cats."]
    rows = [vocab.encode(t) + [2] for t in texts]
    width = max(map(len, rows))
    tensor = torch.tensor([r + [0] * (width - len(r)) for r in rows])
    metrics = evaluate_samples(g, tensor[:3], tensor[1:], None, (2, 4), True, words=vocab.words)
    words = [tokenize(t, "punct") for t in texts]
    assert metrics["eval/bleu4"] == pytest.approx(bleu(words[:3], words[1:], (4,))[4], abs=1e-12)
    assert metrics["eval/self_bleu2"] == pytest.approx(self_bleu(words[:3], (2,))[2], abs=1e-12)
    assert metrics["eval/mean_length"] == pytest.approx(sum(map(len, words[:3])) / 3)
