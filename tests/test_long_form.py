"""Long form: whole talks through the one loop, talk-level logs that the long-form scorers read."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from policies import build_policy
from simul.data.instance import Instance
from simul.data.readers import read_mustc
from simul.data.talks import talks_from_segments
from simul.eval.log_io import read_instances_log
from simul.eval.omnisteval_scoring import score_omnisteval_long
from simul.eval.stream_latency import score_stream_laal
from simul.eval.talk_references import read_talk_references
from simul.evaluation import (
    EvaluationRequest,
    ModelRequest,
    PolicyRequest,
    TestSet,
    evaluate,
    read_test_set,
)
from simul.streaming import ElapsedClock, ToyConfig, ToyModel, simulate
from tests.talk_corpus import write_talk_corpus

_FRAME_SAMPLES = 640  # the toy's 40 ms frames at 16 kHz


def _run(root: Path, output: Path, *, long_form: bool, policy: str = "waitk") -> tuple:
    instances, data, origins = read_test_set(TestSet(dir=root, long_form=long_form))
    request = EvaluationRequest(
        model=ModelRequest(),
        policy=PolicyRequest(policy, {"k": 2} if policy == "waitk" else {}),
        output=output,
        clock=ElapsedClock.REAL_TIME if long_form else ElapsedClock.SIMULEVAL,
        long_form=long_form,
        progress=False,
    )
    return instances, evaluate(request, instances, data=data, origins=origins)


@pytest.mark.parametrize("policy", ["waitk", "alignatt"])
def test_stream_laal_of_one_sentence_talks_is_their_laal(tmp_path: Path, policy: str) -> None:
    write_talk_corpus(tmp_path / "data", (1, 1, 1), gap_samples=0)  # each wav is its sentence
    _, sentences = _run(tmp_path / "data", tmp_path / "sentences", long_form=False, policy=policy)
    talks, streamed = _run(tmp_path / "data", tmp_path / "talks", long_form=True, policy=policy)
    assert [t.id for t in talks] == ["test_talk0", "test_talk1", "test_talk2"]
    laal = sentences.scores.instances.set_index("index")["LAAL"]
    stream_laal = streamed.scores.instances.set_index("index")["StreamLAAL"]
    assert stream_laal.tolist() == laal.tolist()
    corpus, stream_corpus = sentences.scores.corpus, streamed.scores.corpus
    assert stream_corpus.loc["st", "StreamLAAL"] == corpus.loc["st", "LAAL"]
    assert stream_corpus.loc["st", "BLEU"] == corpus.loc["st", "BLEU"]
    assert [r.streams["st"].prediction for r in streamed.records] == [
        r.streams["st"].prediction for r in sentences.records
    ]


def test_a_talk_level_log_is_what_the_long_form_scorers_read(tmp_path: Path) -> None:
    write_talk_corpus(tmp_path / "data", (3, 2))
    output = tmp_path / "talks"
    talks, result = _run(tmp_path / "data", output, long_form=True)
    log = read_instances_log(output)
    assert len(log) == 2  # one line per talk
    assert [record.source_length for record in log] == [t.duration_ms for t in talks]
    references = read_talk_references(output / "segments.yaml", {"st": output / "references.st"})
    assert [len(talk.segments) for talk in references] == [3, 2]
    sentences = read_mustc(tmp_path / "data", "test", tgt_langs=("de",))
    assert [s.references["st"] for talk in references for s in talk.segments] == [
        s.target_texts["de"] for s in sentences
    ]
    assert [s.offset_ms for talk in references for s in talk.segments] == [
        s.offset_samples / 16 for s in sentences
    ]
    # `simul score --stream-laal` on these files gives the run's own scores
    rescored = score_stream_laal(log, references).scores.corpus
    assert rescored.loc["st", "StreamLAAL"] == result.scores.corpus.loc["st", "StreamLAAL"]
    assert rescored.loc["st", "BLEU"] == result.scores.corpus.loc["st", "BLEU"]
    # and OmniSTEval's long form reads them too
    long = score_omnisteval_long(log, references).scores.corpus
    assert math.isfinite(long.loc["st", "LongYAAL"])


def _scripted_toy(instance: Instance) -> ToyModel:
    """A toy that "knows" the instance: each source word, due at the frame where it ends."""
    words = instance.source_words or ()
    return ToyModel(
        ToyConfig(
            pieces=tuple(f"▁{w.word}" for w in words),
            frames=tuple(max(w.end_sample - 1, 0) // _FRAME_SAMPLES for w in words),
        )
    )


@pytest.mark.parametrize("policy", ["waitk", "alignatt"])
def test_a_streamed_talk_writes_what_its_sentences_write(tmp_path: Path, policy: str) -> None:
    write_talk_corpus(tmp_path, (4, 2))
    sentences = read_mustc(tmp_path, "test", tgt_langs=("de",))
    chosen = build_policy(policy, {"k": 2} if policy == "waitk" else {})
    for talk in talks_from_segments(sentences):
        # the toy's history is unlimited: it keeps every word and every frame of the talk
        streamed = simulate(_scripted_toy(talk), chosen, talk, clock=ElapsedClock.REAL_TIME)
        expected = [
            word.text
            for sentence in talk.segments or ()
            for word in simulate(_scripted_toy(sentence), chosen, sentence).emissions
        ]
        assert [word.text for word in streamed.emissions] == expected
        assert len(expected) == len(talk.source_text.split())
        delays = [word.source_ms for word in streamed.emissions]
        assert delays == sorted(delays)
        assert not streamed.truncated


def test_long_form_refuses_sentences_and_talks_need_it(tmp_path: Path) -> None:
    write_talk_corpus(tmp_path / "data", (2,))
    sentences, data, _ = read_test_set(TestSet(dir=tmp_path / "data"))
    talks, _, _ = read_test_set(TestSet(dir=tmp_path / "data", long_form=True))
    base = {"model": ModelRequest(), "policy": PolicyRequest("waitk"), "progress": False}
    with pytest.raises(ValueError, match="needs talk instances"):
        evaluate(EvaluationRequest(output=tmp_path / "a", long_form=True, **base), sentences,
                 data=data)  # fmt: skip
    with pytest.raises(ValueError, match="is a talk"):
        evaluate(EvaluationRequest(output=tmp_path / "b", **base), talks, data=data)
