"""eflomal alignment: symmetrization, files, error rate against gold, and `simul data align`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from simul.data.corpus_writer import write_instances
from simul.data.instance import Instance, WordSpan
from simul.data.readers import read_mustc
from simul.data.synth import GrammarConfig, SynthSentence, generate_sentences
from simul.serialize import (
    AlignerConfig,
    EmittedToken,
    JointTarget,
    align_bitext,
    alignment_scores,
    get_target_transform,
    read_alignments,
    split_streams,
    symmetrize,
    write_alignments,
)
from simul.serialize.corpus_align import align_corpus
from simul.serialize.word_aligner import aligner_token, parse_pharaoh


def test_grow_diag_final_and_by_hand() -> None:
    forward = ((0, 0), (1, 2), (2, 1), (3, 3))
    reverse = ((0, 0), (1, 1), (2, 1), (3, 4))
    assert symmetrize(forward, reverse, "intersection") == ((0, 0), (2, 1))
    assert symmetrize(forward, reverse, "union") == ((0, 0), (1, 1), (1, 2), (2, 1), (3, 3), (3, 4))
    # grow-diag adds (1, 1) (next to (0, 0), source 1 unaligned) and then (1, 2) (next to
    # (1, 1), target 2 unaligned); final-and adds (3, 3) (both ends unaligned), then not (3, 4).
    assert symmetrize(forward, reverse, "grow-diag-final-and") == (
        (0, 0), (1, 1), (1, 2), (2, 1), (3, 3),
    )  # fmt: skip
    assert symmetrize(forward, reverse, "forward") == forward
    with pytest.raises(ValueError, match="`how`"):
        symmetrize(forward, reverse, "both")  # type: ignore[arg-type]


def test_pharaoh_lines_and_aligner_tokens() -> None:
    assert parse_pharaoh("1-0 0-0 1-0", 2, 1, "x") == ((0, 0), (1, 0))
    assert parse_pharaoh("", 0, 0, "x") == ()
    with pytest.raises(ValueError, match="x: alignment link must be I-J"):
        parse_pharaoh("0:1", 2, 2, "x")
    with pytest.raises(ValueError, match="out of range"):
        parse_pharaoh("2-0", 2, 2, "x")
    assert [aligner_token(w) for w in ("Key.", "¿Qué?", ",", "don't", "«Haus»")] == [
        "key", "qué", ",", "don't", "haus",
    ]  # fmt: skip


def test_alignment_scores_by_hand() -> None:
    scores = alignment_scores([((0, 0), (1, 1)), ((0, 1),)], [((0, 0), (1, 2)), ((0, 1),)])
    assert (scores.num_predicted, scores.num_gold) == (3, 3)
    assert scores.precision == pytest.approx(2 / 3) and scores.recall == pytest.approx(2 / 3)
    assert scores.aer == pytest.approx(1 - 4 / 6)
    assert alignment_scores([((0, 0),)], [((0, 0),)]).aer == 0.0
    with pytest.raises(ValueError, match="same sentences"):
        alignment_scores([()], [])
    with pytest.raises(ValueError, match="no link"):
        alignment_scores([()], [()])


def test_alignment_files_round_trip_and_reject_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "a" / "train.de.jsonl"
    write_alignments(path, "de", ["x", "y"], [((1, 0), (0, 0), (1, 0)), ()])
    assert (
        path.read_text().splitlines()[0]
        == '{"id": "x", "lang": "de", "alignment": [[0, 0], [1, 0]]}'
    )
    other = tmp_path / "train.es.jsonl"
    write_alignments(other, "es", ["x"], [((0, 1),)])
    assert read_alignments([path, other]) == {
        "de": {"x": ((0, 0), (1, 0)), "y": ()},
        "es": {"x": ((0, 1),)},
    }
    with pytest.raises(ValueError, match="second 'de' alignment"):
        read_alignments([path, path])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_alignments([tmp_path / "missing.jsonl"])
    with pytest.raises(ValueError, match="distinct"):
        write_alignments(path, "de", ["x", "x"], [(), ()])
    for line, message in [
        ("{", "not valid JSON"),
        ("[1]", "JSON object"),
        ('{"id": "x", "alignment": []}', "`lang` must be a non-empty string"),
        ('{"id": "x", "lang": "de", "alignment": [[0, -1]]}', "indices >= 0"),
        ('{"id": "x", "lang": "de", "alignment": 3}', "list of"),
    ]:
        bad = tmp_path / "bad.jsonl"
        bad.write_text(line + "\n")
        with pytest.raises(ValueError, match=f"bad.jsonl:1: .*{message}"):
            read_alignments([bad])


def test_eflomal_agrees_with_the_grammar_gold_alignments() -> None:
    sentences = generate_sentences(GrammarConfig(), 400, seed=11)
    source = [list(s.source_words) for s in sentences] + [[], ["hello"]]
    target = [list(s.target_words["de"]) for s in sentences] + [["hallo"], []]
    alignments = align_bitext(source, target, AlignerConfig(num_samplers=2))
    assert len(alignments) == len(source) and alignments[-2:] == [(), ()]
    for pairs, s, t in zip(alignments, source, target, strict=True):
        assert all(0 <= i < len(s) and 0 <= j < len(t) for i, j in pairs)
    scores = alignment_scores(alignments[:-2], [s.alignments["de"] for s in sentences])
    # measured 0.05-0.07 on this bitext; eflomal is not seeded, so leave room
    assert scores.aer < 0.15, scores


def test_align_bitext_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="as many translations"):
        align_bitext([["a"]], [])
    with pytest.raises(ValueError, match="whitespace-free"):
        align_bitext([["a b"]], [["x"]])
    assert align_bitext([], []) == []
    with pytest.raises(ValueError, match="symmetrization"):
        AlignerConfig(symmetrization="both")  # type: ignore[arg-type]


def _write_corpus(root: Path, split: str, sentences: list[SynthSentence]) -> None:
    """A MuST-C layout split of ``sentences`` over one silent wav (1 s per segment, no TTS)."""
    wav = root / split / "wav" / f"{split}_talk.wav"
    wav.parent.mkdir(parents=True)
    soundfile.write(wav, np.zeros(16000 * len(sentences), dtype=np.int16), 16000, subtype="PCM_16")
    instances = [
        Instance(
            id=f"{split}_{k}",
            audio_path=wav,
            offset_samples=16000 * k,
            num_samples=16000,
            sample_rate=16000,
            source_text=sentence.source_text,
            target_texts={lang: sentence.target_text(lang) for lang in ("de", "es")},
            source_words=tuple(
                WordSpan(word, 800 * i, 800 * (i + 1))
                for i, word in enumerate(sentence.source_words)
            ),
            alignments=dict(sentence.alignments),
        )
        for k, sentence in enumerate(sentences)
    ]
    write_instances(root / split, split, instances, ("de", "es"))


def test_align_command_writes_files_the_serialization_reads(tmp_path: Path) -> None:
    sentences = generate_sentences(GrammarConfig(), 170, seed=2)
    _write_corpus(tmp_path, "train", sentences[:150])
    _write_corpus(tmp_path, "dev", sentences[150:])
    results = align_corpus(tmp_path, ["train", "dev"], ["de", "es"])
    assert [(r.split, r.lang, r.num_instances) for r in results] == [
        ("train", "de", 150), ("dev", "de", 20), ("train", "es", 150), ("dev", "es", 20),
    ]  # fmt: skip
    for result in results:
        assert result.path == tmp_path / "alignments" / f"{result.split}.{result.lang}.jsonl"
        assert result.gold is not None and result.gold.aer < 0.35, result
        record = json.loads(result.path.with_suffix(".json").read_text())
        assert record["aligned_with"] == ["train", "dev"] and record["aligner"]["name"] == "eflomal"
        assert record["gold_scores"]["aer"] == pytest.approx(result.gold.aer)
    tables = read_alignments(r.path for r in results)
    assert sorted(tables["de"]) == sorted(
        f"{s}_{k}" for s, n in (("train", 150), ("dev", 20)) for k in range(n)
    )

    # the corpus still reads as before, and the eflomal alignments serialize its instances
    instances = read_mustc(tmp_path, "train", tgt_langs=("de", "es"))
    transform = get_target_transform("joint_alignment:de+es", alignments=tables)
    assert isinstance(transform, JointTarget)
    for instance in instances:
        text = transform(instance)
        tokens = [EmittedToken(token, float(i)) for i, token in enumerate(text.split())]
        streams = split_streams(tokens, transform.layout, unit="word")
        assert {name: words.text for name, words in streams.items()} == dict(
            transform.layout.references(instance)
        )
