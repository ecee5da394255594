"""Joint vocabularies: the tags as SentencePiece symbols, the tag-aware encoder, piece round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simul.data.synth import GrammarConfig, generate_sentences
from simul.data.tokenizer import SpmConfig, Tokenizer, train_sentencepiece
from simul.serialize import (
    EmittedToken,
    SerializedTextEncoder,
    StreamLayout,
    TargetWords,
    order_by_alignment,
    serialized_text,
    split_streams,
)

DE = StreamLayout(("de",))
DE_ES = StreamLayout(("de", "es"))
SENTENCES = generate_sentences(GrammarConfig(), 200, seed=5)
VOCABULARY = sorted(
    {w for s in SENTENCES for w in (*s.source_words, *s.target_words["de"], *s.target_words["es"])}
)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Tokenizer:
    """A joint en+de+es vocabulary trained from text files, as `simul data spm` does."""
    root = tmp_path_factory.mktemp("joint_spm")
    inputs = []
    for lang in ("en", "de", "es"):
        path = root / f"train.{lang}"
        texts = [s.source_text if lang == "en" else s.target_text(lang) for s in SENTENCES]
        path.write_text("\n".join(texts) + "\n", encoding="utf-8")
        inputs.append(path)
    tags = tuple(dict.fromkeys((*DE.tags, *DE_ES.tags)))
    return train_sentencepiece(
        root / "spm_joint", SpmConfig(vocab_size=300, tags=tags), input_paths=inputs
    )


def _targets(index: int, langs: tuple[str, ...]) -> tuple[list[str], list[TargetWords]]:
    sentence = SENTENCES[index]
    return list(sentence.source_words), [
        TargetWords(
            lang=lang, words=sentence.target_words[lang], alignment=sentence.alignments[lang]
        )
        for lang in langs
    ]


def _pieces_round_trip(pieces: list[str], layout: StreamLayout) -> dict[str, str]:
    tokens = [EmittedToken(piece, float(i)) for i, piece in enumerate(pieces)]
    return {name: words.text for name, words in split_streams(tokens, layout, unit="piece").items()}


def test_layout_tags_get_the_documented_ids(tokenizer: Tokenizer) -> None:
    assert tokenizer.tags == {"<asr>": 4, "<st>": 5, "<de>": 6, "<es>": 7}
    for tag in (*DE.tags, *DE_ES.tags):
        assert tokenizer.encode_as_pieces(f"dog {tag} Hund").count(tag) == 1


@pytest.mark.parametrize("layout", [DE, DE_ES], ids=["one-target", "two-targets"])
def test_serialized_text_round_trips_through_pieces(
    tokenizer: Tokenizer, layout: StreamLayout
) -> None:
    encoder = SerializedTextEncoder(tokenizer, layout)
    for index in range(len(SENTENCES)):
        source, targets = _targets(index, layout.target_langs)
        text = serialized_text(order_by_alignment(source, targets, layout), layout)
        expected = {"asr": " ".join(source)} | {
            layout.target_stream(t.lang): " ".join(t.words) for t in targets
        }
        assert _pieces_round_trip(tokenizer.encode_as_pieces(text), layout) == expected
        assert _pieces_round_trip(encoder.pieces(text), layout) == expected


def test_encoder_drops_only_the_stray_boundary_piece_before_each_tag(tokenizer: Tokenizer) -> None:
    encoder = SerializedTextEncoder(tokenizer, DE)
    source, targets = _targets(0, ("de",))
    text = serialized_text(order_by_alignment(source, targets, DE), DE)
    plain, tagged = tokenizer.encode_as_pieces(text), encoder.pieces(text)
    num_tags = sum(token in DE.tags for token in text.split())
    assert len(plain) - len(tagged) == num_tags
    assert all(
        not (piece == "\u2581" and following in DE.tags)
        for piece, following in zip(tagged, tagged[1:], strict=False)
    )
    # the words keep the pieces they have in plain text
    words_only = [p for p in tagged if p not in DE.tags]
    plain_words = [p for p, n in zip(plain, [*plain[1:], ""], strict=True) if p not in DE.tags
                   and not (p == "\u2581" and n in DE.tags)]  # fmt: skip
    assert words_only == plain_words
    assert tagged[0] == "<asr>" and tokenizer.decode(encoder(text)).startswith("<asr> ")


def test_encoder_needs_the_tags_in_the_vocabulary(tmp_path: Path) -> None:
    plain = train_sentencepiece(
        tmp_path / "plain", SpmConfig(vocab_size=60), texts=[s.source_text for s in SENTENCES]
    )
    with pytest.raises(ValueError, match="simul data spm --tags '<asr>,<st>'"):
        SerializedTextEncoder(plain, DE)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_random_serializations_round_trip_through_the_encoder(
    tokenizer: Tokenizer, data: st.DataObject
) -> None:
    words = st.lists(st.sampled_from(VOCABULARY), max_size=8)
    source = data.draw(words)
    targets = []
    for lang in DE_ES.target_langs:
        target = data.draw(words)
        pairs = st.tuples(
            st.integers(0, max(len(source) - 1, 0)), st.integers(0, max(len(target) - 1, 0))
        )
        alignment = data.draw(st.lists(pairs, max_size=10)) if source and target else []
        targets.append(TargetWords(lang=lang, words=tuple(target), alignment=tuple(alignment)))
    text = serialized_text(order_by_alignment(source, targets, DE_ES), DE_ES)
    expected = {
        "asr": " ".join(source),
        "de": " ".join(targets[0].words),
        "es": " ".join(targets[1].words),
    }
    assert (
        _pieces_round_trip(SerializedTextEncoder(tokenizer, DE_ES).pieces(text), DE_ES) == expected
    )
