"""StreamLAAL: re-based delays, FBK's elapsed correction, per-stream scores, files, errors, CLI."""

from __future__ import annotations

import json
import logging
import math
import statistics
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simuleval.evaluator.instance import LogInstance
from simuleval.evaluator.scorers.latency_scorer import LAALScorer

from simul.cli.main import main
from simul.eval.latency import length_adaptive_average_lagging, reference_length
from simul.eval.log_io import read_instances_log, write_instances_log
from simul.eval.records import InstanceOutput, StreamOutput
from simul.eval.scoring import ScoringConfig
from simul.eval.stream_latency import rebase_talk_times, resegment_talks, score_stream_laal
from simul.eval.talk_references import ReferenceSegment, TalkReferences, read_talk_references

logging.getLogger("simuleval").setLevel(logging.ERROR)


def _talk(
    name: str, length_ms: float, **streams: tuple[str, list[float], list[float]]
) -> InstanceOutput:
    """A talk-level record: ``stream=(prediction, delays, elapsed)``, ``source`` as SimulEval."""
    return InstanceOutput(
        index=0,
        source_type="speech",
        source_length=length_ms,
        streams={
            stream: StreamOutput(prediction=text, delays=tuple(delays), elapsed=tuple(elapsed))
            for stream, (text, delays, elapsed) in streams.items()
        },
        source=[f"wav/{name}", "samplerate: 16000 Hz"],
    )


def _references(
    name: str, *segments: tuple[float, float, dict[str, str]], first: int = 0
) -> TalkReferences:
    """A talk's references from ``(offset_ms, duration_ms, {stream: text})`` triples."""
    return TalkReferences(
        talk=name,
        segments=tuple(
            ReferenceSegment(
                index=first + position, offset_ms=offset, duration_ms=duration,
                references=texts, origin=f"test.yaml:{first + position + 1}",
            )
            for position, (offset, duration, texts) in enumerate(segments)
        ),
    )  # fmt: skip


def test_stream_laal_by_hand() -> None:
    """Two segments of one talk: delays re-based to 1 s and 4 s, LAAL per segment, mean."""
    talk = _talk("t.wav", 10_000, main=("a b c d e", [1500, 2500, 3500, 5000, 8000], []))
    refs = _references("t.wav", (1000, 2000, {"main": "a b c"}), (4000, 3000, {"main": "d e"}))
    result = score_stream_laal([talk], [refs], ScoringConfig(quality_metrics=()))
    first, second = result.segments
    assert first.streams["main"].delays == (500, 1500, 2500) and first.source_length == 2000
    assert second.streams["main"].delays == (1000, 4000) and second.source_length == 3000
    # segment 1: gamma = 3 / 2000, tau = 3: (500 + (1500 - 2000/3) + (2500 - 4000/3)) / 3 = 2500/3
    # segment 2: gamma = 2 / 3000, tau = 2: (1000 + (4000 - 1500)) / 2 = 1750
    corpus = result.scores.corpus.loc["main"]
    assert corpus["StreamLAAL"] == pytest.approx((2500 / 3 + 1750) / 2, rel=1e-12)
    assert corpus["AS-WER"] == 0 and corpus["num_instances"] == 2
    per_segment = result.scores.instances
    assert list(per_segment["talk"]) == ["t.wav", "t.wav"]
    assert per_segment["StreamLAAL"].tolist() == pytest.approx([2500 / 3, 1750], rel=1e-12)


def test_elapsed_correction_by_hand() -> None:
    """FBK's correction: the delay plus the compute since the previous unit, re-based."""
    delays = [1500, 1500, 2500, 5000]
    elapsed = [1700, 1700, 2900, 5600]  # one write of two units, then one unit per write
    stream_delays, stream_elapsed = rebase_talk_times(delays, elapsed, [1000, 1000, 1000, 4000])
    assert stream_delays == [500, 500, 1500, 1000]
    # c = 1700; copy: (700 - 500) + 1500 = 1700; 2900 - 1700 + 1500 = 2700; 5600 - 2900 + 2500
    assert stream_elapsed == [700, 700, 1700, 1200]
    assert rebase_talk_times(delays, [], [0, 0, 0, 0]) == (delays, [])


def test_elapsed_copy_uses_the_rebased_values_as_fbk() -> None:
    """A write before its segment began: the copied cost is c' - d' = 300 - 0 (FBK), not 500."""
    assert rebase_talk_times([800, 800], [1300, 1300], [1000, 1000]) == ([0, 0], [300, 100])


def test_every_stream_against_its_own_references() -> None:
    """A joint ASR/ST talk: each stream re-segmented on its own; WER on ``asr`` is AS-WER."""
    talk = _talk(
        "t.wav", 9000,
        asr=("hello there world how are you", [900, 1200, 2000, 4500, 5000, 5200], []),
        st=("hallo Welt wie geht es dir", [1500, 2600, 5000, 5500, 6000, 7000], []),
    )  # fmt: skip
    refs = _references(
        "t.wav",
        (500, 2500, {"asr": "hello world", "st": "hallo Welt"}),
        (4000, 4000, {"asr": "how are you", "st": "wie geht es"}),
    )
    result = score_stream_laal([talk], [refs])
    assert [segment.streams["asr"].prediction for segment in result.segments] == [
        "hello there world", "how are you"
    ]  # fmt: skip
    assert [segment.streams["st"].prediction for segment in result.segments] == [
        "hallo Welt", "wie geht es dir"
    ]  # fmt: skip
    corpus = result.scores.corpus
    assert corpus.loc["asr", "WER"] == corpus.loc["asr", "AS-WER"] == pytest.approx(100 / 5)
    assert corpus.loc["st", "AS-WER"] == pytest.approx(100 / 5)
    assert set(result.scores.signatures) == {"asr/WER", "asr/CER", "st/BLEU", "st/chrF"}


def test_empty_segments_are_skipped_by_latency_but_count_for_quality() -> None:
    talk = _talk("t.wav", 9000, main=("x y", [1000, 6000], [1100, 6200]))
    refs = _references(
        "t.wav",
        (0, 3000, {"main": "x"}),
        (3000, 2000, {"main": "a b"}),
        (5000, 3000, {"main": "y"}),
    )
    result = score_stream_laal([talk], [refs], ScoringConfig(computation_aware=True))
    middle = result.segments[1].streams["main"]
    assert middle.prediction == "" and middle.delays == () and middle.elapsed == ()
    per_segment = result.scores.instances
    assert math.isnan(per_segment["StreamLAAL"][1]) and math.isnan(per_segment["StreamLAAL_CA"][1])
    corpus = result.scores.corpus.loc["main"]
    assert corpus["StreamLAAL"] == (per_segment["StreamLAAL"][0] + per_segment["StreamLAAL"][2]) / 2
    assert corpus["BLEU"] < 100  # the empty segment still counts


def test_simuleval_scores_the_resegmented_log_the_same(tmp_path: Path) -> None:
    """FBK scores the re-segmented instances with SimulEval's LAALScorer: so does this check."""
    talk = _talk(
        "t.wav", 20_000,
        main=(
            "one two three four five six seven eight nine",
            [800, 1200, 3000, 3000, 5000, 9000, 9500, 12000, 15000],
            [900, 1400, 3500, 3500, 5800, 9900, 10600, 13500, 16800],
        ),
    )  # fmt: skip
    refs = _references(
        "t.wav",
        (1000, 2500, {"main": "one two three"}),
        (4000, 5000, {"main": "four five six seven"}),
        (11000, 5000, {"main": "eight nine ten"}),
    )
    result = score_stream_laal([talk], [refs], ScoringConfig(computation_aware=True))
    log = write_instances_log(tmp_path, result.segments)
    instances = {
        position: LogInstance(line) for position, line in enumerate(log.read_text().splitlines())
    }
    corpus = result.scores.corpus.loc["main"]
    assert LAALScorer()(instances) == corpus["StreamLAAL"]
    assert LAALScorer(computation_aware=True)(instances) == corpus["StreamLAAL_CA"]


_SEGMENT = st.tuples(
    st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=5),  # reference words
    st.integers(500, 5000),  # duration, ms
    st.integers(0, 2000),  # gap before it, ms
    st.data(),
)


@settings(max_examples=60, deadline=None)
@given(segments=st.lists(_SEGMENT, min_size=1, max_size=5))
def test_perfect_output_gives_back_the_segments_and_their_laal(segments) -> None:
    """Per-segment hypotheses equal to their references, concatenated into a talk: the
    re-segmentation gives the segments back, and StreamLAAL is their LAAL, computed directly."""
    offset, words, delays, reference_segments, direct = 0, [], [], [], []
    for reference, duration, gap, data in segments:
        offset += gap
        own = sorted(data.draw(st.lists(st.integers(0, duration), min_size=len(reference),
                                        max_size=len(reference))))  # fmt: skip
        words += reference
        delays += [offset + delay for delay in own]
        text = " ".join(reference)
        reference_segments.append((float(offset), float(duration), {"main": text}))
        direct.append(
            length_adaptive_average_lagging(own, duration, reference_length(text, "word"))
        )
        offset += duration
    talk = _talk("t.wav", offset + 1, main=(" ".join(words), delays, []))
    result = score_stream_laal(
        [talk], [_references("t.wav", *reference_segments)], ScoringConfig(quality_metrics=())
    )
    assert [s.streams["main"].prediction for s in result.segments] == [
        texts["main"] for *_, texts in reference_segments
    ]
    assert result.scores.corpus.loc["main", "StreamLAAL"] == statistics.mean(direct)


def test_character_latency_unit() -> None:
    talk = _talk("t.wav", 6000, main=("ab cde", [1000, 1200, 3500, 3600, 4000], []))
    refs = _references("t.wav", (500, 1500, {"main": "ab"}), (3000, 2000, {"main": "cde"}))
    result = score_stream_laal(
        [talk], [refs], ScoringConfig(latency_unit="char", quality_metrics=())
    )
    assert [s.streams["main"].prediction for s in result.segments] == ["ab", "cde"]
    assert result.segments[1].streams["main"].delays == (500, 600, 1000)
    with pytest.raises(ValueError, match="word or char"):
        score_stream_laal([talk], [refs], ScoringConfig(latency_unit="spm", spm_model="m.model"))


def test_mismatched_inputs_are_named() -> None:
    talk = _talk("t.wav", 6000, main=("a b", [1000, 2000], []))
    refs = _references("t.wav", (0, 3000, {"main": "a b"}))
    with pytest.raises(ValueError, match="have none: u.wav"):
        resegment_talks([talk], [refs, _references("u.wav", (0, 1000, {"main": "c"}), first=1)])
    other = _talk("u.wav", 6000, main=("a b", [1000, 2000], []))
    with pytest.raises(ValueError, match="are not: u.wav"):
        resegment_talks([talk, other], [refs])
    with pytest.raises(ValueError, match="stream `st` has references but no output"):
        resegment_talks([talk], [_references("t.wav", (0, 3000, {"st": "a b"}))])
    with pytest.raises(ValueError, match="ends at 7000 ms, after the end of talk t.wav"):
        resegment_talks([talk], [_references("t.wav", (4000, 3000, {"main": "a b"}))])
    short = _talk("t.wav", 6000, main=("a b", [1000], []))
    with pytest.raises(ValueError, match="1 delays but its prediction has 2 word units"):
        resegment_talks([short], [refs])
    with pytest.raises(ValueError, match="segment index 0 is also test.yaml:1's"):
        resegment_talks([talk, other], [refs, _references("u.wav", (0, 1000, {"main": "c"}))])
    with pytest.raises(ValueError, match=r"must be for streams \['main'\], but are for \['st'\]"):
        resegment_talks(
            [talk, other], [refs, _references("u.wav", (0, 1000, {"st": "c"}), first=1)]
        )
    nameless = InstanceOutput(
        index=0, source_type="speech", source_length=1.0, streams=talk.streams, source=None
    )
    with pytest.raises(ValueError, match="`source` must name the talk's audio file"):
        resegment_talks([nameless], [refs])


def _corpus(tmp_path: Path) -> tuple[Path, Path]:
    """A MuST-C segment list of two talks (German and English references) and a joint log."""
    txt = tmp_path / "txt"
    txt.mkdir()
    (txt / "tst.yaml").write_text(
        "- {duration: 2.0, offset: 1.5, speaker_id: s1, wav: talk1.wav}\n"
        "- {duration: 3.0, offset: 4.0, speaker_id: s1, wav: talk1.wav}\n"
        "- {duration: 2.5, offset: 16.005, speaker_id: s2, wav: talk2.wav}\n"
    )
    (txt / "tst.de").write_text("das ist gut\nich bin hier heute\nhallo Welt\n")
    (txt / "tst.en").write_text("that is good\nI am here today\nhello world\n")
    lines = [
        {"index": 0, "prediction": "das ist gut ich bin heute",
         "delays": [2000, 2500, 3500, 5000, 6000, 7500],
         "elapsed": [2100, 2600, 3600, 5200, 6300, 7900],
         "source": "corpus/wav/talk1.wav", "source_length": 8000.0, "stream": "st",
         "streams": {"asr": {"prediction": "that is good I am here today",
                             "delays": [1800, 2000, 3000, 4500, 4800, 5500, 6500], "elapsed": []}}},
        {"index": 1, "prediction": "hallo Welt", "delays": [17000, 18000], "elapsed": [17100, 18100],
         "source": "corpus/wav/talk2.wav", "source_length": 19000.0, "stream": "st",
         "streams": {"asr": {"prediction": "hello word", "delays": [16500, 17900], "elapsed": []}}},
    ]  # fmt: skip
    run = tmp_path / "run"
    run.mkdir()
    (run / "instances.log").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return txt, run


def test_read_talk_references(tmp_path: Path) -> None:
    txt, _ = _corpus(tmp_path)
    talks = read_talk_references(txt / "tst.yaml", {"st": txt / "tst.de", "asr": txt / "tst.en"})
    assert [talk.talk for talk in talks] == ["talk1.wav", "talk2.wav"]
    assert [s.index for s in talks[0].segments] == [0, 1] and talks[1].segments[0].index == 2
    assert talks[1].segments[0].offset_ms == 16004.999999999998  # FBK's: float(16.005) * 1000
    assert talks[0].segments[1].references == {"st": "ich bin hier heute", "asr": "I am here today"}
    (txt / "short.de").write_text("das ist gut\n")
    with pytest.raises(ValueError, match="short.de must have one line per entry of tst.yaml"):
        read_talk_references(txt / "tst.yaml", {"st": txt / "short.de"})
    (txt / "unsorted.yaml").write_text(
        "- {duration: 2.0, offset: 4.0, wav: a.wav}\n- {duration: 2.0, offset: 1.0, wav: a.wav}\n"
    )
    (txt / "two.de").write_text("a\nb\n")
    with pytest.raises(ValueError, match=r"unsorted.yaml:2: `offset` 1.0 s of talk a.wav"):
        read_talk_references(txt / "unsorted.yaml", {"st": txt / "two.de"})


def test_simul_score_stream_laal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    txt, run = _corpus(tmp_path)
    out = tmp_path / "scores"
    status = main([
        "score", str(run), "--stream-laal", "--segments-yaml", str(txt / "tst.yaml"),
        "--references", f"st={txt / 'tst.de'}", f"asr={txt / 'tst.en'}", "--computation-aware",
        "--output", str(out),
    ])  # fmt: skip
    assert status == 0
    printed = capsys.readouterr().out
    assert "StreamLAAL" in printed and "StreamLAAL_CA" in printed
    document = json.loads((out / "scores.json").read_text())
    assert set(document["corpus"]) == {"st", "asr"}
    assert document["provenance"]["inputs"]["resegmentation"]["case_sensitive"] is True
    segments = read_instances_log(out / "resegmented")
    assert [s.streams["st"].prediction for s in segments] == [
        "das ist gut",
        "ich bin heute",
        "hallo Welt",
    ]
    # talk2's segment starts at 16.005 s: FBK's offset is 16004.999999999998 ms
    assert segments[2].streams["st"].delays == (995.0000000000018, 1995.0000000000018)


def test_simul_score_stream_laal_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    txt, run = _corpus(tmp_path)
    yaml_args = ["--segments-yaml", str(txt / "tst.yaml")]
    assert main(["score", str(run), "--references", str(txt / "tst.de")]) == 2
    assert "add --stream-laal" in capsys.readouterr().err
    assert (
        main(["score", str(run), "--stream-laal", *yaml_args, "--references", str(txt / "tst.de")])
        == 2
    )
    assert "must say its stream as STREAM=FILE" in capsys.readouterr().err
    assert (
        main(
            ["score", str(run), "--stream-laal", *yaml_args, "--references", f"mt={txt / 'tst.de'}"]
        )
        == 2
    )
    assert "names streams ['mt']" in capsys.readouterr().err
    assert main([
        "score", str(run), "--stream-laal", *yaml_args, "--references", f"st={txt / 'tst.de'}",
        "--latency-metrics", "AL",
    ]) == 2  # fmt: skip
    assert "scores LAAL only" in capsys.readouterr().err
    assert not (run / "simul-stream-scores").exists()
