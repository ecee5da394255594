"""SentencePiece training and the Tokenizer: special ids, tags as single pieces, round trip."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simul.cli import data_spm
from simul.data.tokenizer import SpmConfig, Tokenizer, parse_tags, train_sentencepiece

TAGS = ("<asr>", "<st>", "<de>", "<es>")
ENGLISH = [
    "two young men are playing football on a green field",
    "a little girl climbs into a wooden playhouse",
    "a man in a blue shirt is standing on a ladder cleaning windows",
    "several men in hard hats are operating a giant pulley system",
    "a dog runs through the grass with a ball in its mouth",
]
GERMAN = [
    "zwei junge männer spielen fußball auf einer grünen wiese",
    "ein kleines mädchen klettert in ein spielhaus aus holz",
    "ein mann in einem blauen hemd steht auf einer leiter und putzt fenster",
    "mehrere männer mit schutzhelmen bedienen ein antriebsradsystem",
    "ein hund rennt mit einem ball im maul durch das gras",
]


@pytest.fixture(scope="module")
def joint(tmp_path_factory: pytest.TempPathFactory) -> Tokenizer:
    """A joint en+de vocabulary with the serialization tags, trained from two files."""
    root = tmp_path_factory.mktemp("spm")
    (root / "train.en").write_text("\n".join(ENGLISH * 4) + "\n", encoding="utf-8")
    (root / "train.de").write_text("\n".join(GERMAN * 4) + "\n", encoding="utf-8")
    config = SpmConfig(vocab_size=110, model_type="unigram", tags=TAGS)
    return train_sentencepiece(
        root / "out" / "spm_joint", config, input_paths=[root / "train.en", root / "train.de"]
    )


def test_training_writes_model_and_vocab_only(joint: Tokenizer) -> None:
    out_dir = joint.model_path.parent
    assert sorted(path.name for path in out_dir.iterdir()) == ["spm_joint.model", "spm_joint.vocab"]
    vocab_lines = (out_dir / "spm_joint.vocab").read_text(encoding="utf-8").splitlines()
    assert len(vocab_lines) == joint.vocab_size == 110
    assert [line.split("\t")[0] for line in vocab_lines[:8]] == [
        "<s>", "<pad>", "</s>", "<unk>", *TAGS
    ]  # fmt: skip


def test_special_ids_follow_fairseq(joint: Tokenizer) -> None:
    assert (joint.bos_id, joint.pad_id, joint.eos_id, joint.unk_id) == (0, 1, 2, 3)
    assert joint.blank_id == joint.pad_id
    assert [joint.id_to_piece(i) for i in range(4)] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert joint.tags == {"<asr>": 4, "<st>": 5, "<de>": 6, "<es>": 7}
    assert joint.piece_to_id("<st>") == 5


def test_tags_are_single_pieces_anywhere(joint: Tokenizer) -> None:
    for text in ("<asr> a dog <st> ein hund", "<asr>a<st>ein", "x<de>y", "<es><es>"):
        pieces = joint.encode_as_pieces(text)
        ids = joint.encode(text)
        for tag, tag_id in joint.tags.items():
            assert pieces.count(tag) == text.count(tag)
            assert ids.count(tag_id) == text.count(tag)
        assert not any(tag in piece and piece != tag for piece in pieces for tag in TAGS)


def test_encode_adds_no_specials_and_decode_drops_them(joint: Tokenizer) -> None:
    ids = joint.encode("a dog runs")
    assert not {joint.bos_id, joint.pad_id, joint.eos_id} & set(ids)
    noisy = [joint.bos_id, *ids, joint.pad_id, joint.eos_id]
    assert joint.decode(noisy) == "a dog runs"
    assert joint(" a dog runs") == ids
    with pytest.raises(ValueError, match="token ids"):
        joint.decode([joint.vocab_size])


WORDS = sorted({word for line in ENGLISH + GERMAN for word in line.split()})


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(WORDS + list(TAGS)), min_size=0, max_size=12))
def test_round_trip(joint: Tokenizer, words: list[str]) -> None:
    text = " ".join(words)
    assert joint.decode(joint.encode(text)) == text


def test_bpe_from_texts(tmp_path: Path) -> None:
    config = SpmConfig(vocab_size=60, model_type="bpe", tags=("<asr>", "<st>"))
    tokenizer = train_sentencepiece(tmp_path / "bpe", config, texts=ENGLISH * 3)
    text = "<asr> a dog <st> a man"
    assert tokenizer.decode(tokenizer.encode(text)) == text
    assert tokenizer.tags == {"<asr>": 4, "<st>": 5}


def test_training_errors(tmp_path: Path) -> None:
    small = tmp_path / "small.txt"
    small.write_text("ab ab ab\n")
    with pytest.raises(ValueError, match="SentencePiece training"):
        train_sentencepiece(tmp_path / "m", SpmConfig(vocab_size=500), input_paths=[small])
    assert not any(tmp_path.glob(".m*"))  # the temporary directory is gone
    with pytest.raises(FileNotFoundError):
        train_sentencepiece(tmp_path / "m", SpmConfig(), input_paths=[tmp_path / "missing.txt"])
    with pytest.raises(ValueError, match="exactly one"):
        train_sentencepiece(tmp_path / "m", SpmConfig())


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="model_type"):
        SpmConfig(model_type="wordpiece")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="whitespace"):
        SpmConfig(tags=("<a b>",))
    with pytest.raises(ValueError, match="special pieces"):
        SpmConfig(tags=("<pad>",))
    with pytest.raises(ValueError, match="distinct"):
        SpmConfig(tags=("<st>", "<st>"))
    with pytest.raises(ValueError, match="vocab_size"):
        SpmConfig(vocab_size=6, tags=("<a>", "<b>", "<c>"))
    assert parse_tags(" <asr>, <st>,,") == ("<asr>", "<st>")


def test_tokenizer_refuses_non_models(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Tokenizer(tmp_path / "none.model")
    junk = tmp_path / "junk.model"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="cannot be loaded"):
        Tokenizer(junk)


def test_spm_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "train.txt"
    text.write_text("\n".join(ENGLISH * 2) + "\n")
    parser = argparse.ArgumentParser()
    data_spm.add_parser(parser.add_subparsers())
    argv = ["spm", "--input", str(text), "--vocab-size", "50", "--tags", "<asr>,<st>"]
    args = parser.parse_args([*argv, "--out", str(tmp_path / "vocab" / "spm_en")])
    assert args.run(args) == 0
    tokenizer = Tokenizer(tmp_path / "vocab" / "spm_en.model")
    assert tokenizer.vocab_size == 50 and tokenizer.tags == {"<asr>": 4, "<st>": 5}
    assert "<asr>=4, <st>=5" in capsys.readouterr().out
