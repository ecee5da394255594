"""Talks as instances (``simul.data.talks``): whole wavs, talk-time word times, re-indexed alignments."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from simul.data.readers import read_mustc
from simul.data.talks import talks_from_segments
from tests.talk_corpus import write_talk_corpus


def test_talks_keep_every_word_time_alignment_and_sentence(tmp_path: Path) -> None:
    write_talk_corpus(tmp_path, (3, 1, 2))
    sentences = read_mustc(tmp_path, "test", tgt_langs=("de",))
    talks = talks_from_segments(sentences)
    assert [talk.id for talk in talks] == ["test_talk0", "test_talk1", "test_talk2"]
    assert sum(len(talk.segments or ()) for talk in talks) == len(sentences)
    for talk in talks:
        members = [s for s in sentences if s.audio_path == talk.audio_path]
        assert talk.segments == tuple(members)
        assert talk.offset_samples == 0
        assert talk.num_samples > members[-1].offset_samples + members[-1].num_samples  # the tail
        assert talk.source_text == " ".join(s.source_text for s in members)
        assert talk.target_texts["de"] == " ".join(s.target_texts["de"] for s in members)
        # every word, at its sentence's offset plus its own time
        expected = [
            (w.word, w.start_sample + s.offset_samples, w.end_sample + s.offset_samples)
            for s in members
            for w in s.source_words or ()
        ]
        assert [(w.word, w.start_sample, w.end_sample) for w in talk.source_words or ()] == expected
        # an alignment pair still links the same two words
        source, target = talk.source_text.split(), talk.target_texts["de"].split()
        pairs = [
            (s.source_text.split()[i], s.target_texts["de"].split()[j])
            for s in members
            for i, j in (s.alignments or {})["de"]
        ]
        assert [(source[i], target[j]) for i, j in (talk.alignments or {})["de"]] == pairs


def test_a_one_sentence_talk_is_its_sentence(tmp_path: Path) -> None:
    write_talk_corpus(tmp_path, (1,), gap_samples=0)
    (sentence,) = read_mustc(tmp_path, "test", tgt_langs=("de",))
    (talk,) = talks_from_segments([sentence])
    assert talk.segments == (sentence,)
    assert dataclasses.replace(talk, id=sentence.id, segments=None) == sentence


def test_a_talk_without_word_times_for_one_sentence_has_none(tmp_path: Path) -> None:
    write_talk_corpus(tmp_path, (2,))
    first, second = read_mustc(tmp_path, "test", tgt_langs=("de",))
    (talk,) = talks_from_segments([first, dataclasses.replace(second, source_words=None,
                                                              alignments=None)])  # fmt: skip
    assert talk.source_words is None
    assert talk.alignments is None


def test_overlapping_sentences_are_refused(tmp_path: Path) -> None:
    write_talk_corpus(tmp_path, (2,))
    first, second = read_mustc(tmp_path, "test", tgt_langs=("de",))
    overlapping = dataclasses.replace(second, offset_samples=first.offset_samples + 1)
    with pytest.raises(ValueError, match="must start after segment"):
        talks_from_segments([first, overlapping])
