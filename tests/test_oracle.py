"""Oracle latency: delays from gold word times and alignments, and their records for the scorer."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simul.data.instance import Instance, WordSpan
from simul.data.oracle import (
    oracle_delays_ms,
    oracle_outputs,
    segment_delays_ms,
    transcript_oracle_outputs,
)
from simul.eval.log_io import read_instances_log, write_instances_log

SR = 16_000
MS = SR // 1000  # samples per ms

# "I will read the book tomorrow": word ends at 200, 400, 800, 900, 1300, 2000 ms.
SOURCE_WORDS = tuple(
    WordSpan(word, start * MS, end * MS)
    for word, start, end in [
        ("I", 0, 200),
        ("will", 200, 400),
        ("read", 400, 800),
        ("the", 800, 900),
        ("book", 900, 1300),
        ("tomorrow", 1300, 2000),
    ]
)


def make_instance(target: str, de_pairs: tuple[tuple[int, int], ...], **changes) -> Instance:
    fields = dict(
        id="verb_final",
        audio_path=Path("talk.wav"),
        offset_samples=48_000,
        num_samples=2200 * MS,
        sample_rate=SR,
        source_text="I will read the book tomorrow",
        target_texts={"de": target},
        source_words=SOURCE_WORDS,
        alignments={"de": de_pairs},
    )
    fields.update(changes)
    return Instance(**fields)


# German puts the verb last: "lesen" (read, ends 800 ms) waits behind "morgen" (tomorrow, 2000 ms).
VERB_FINAL = make_instance(
    "Ich werde morgen das Buch lesen", ((0, 0), (1, 1), (5, 2), (3, 3), (4, 4), (2, 5))
)


def test_crossing_alignments_wait_for_the_latest_source_word() -> None:
    assert oracle_delays_ms(VERB_FINAL, "de") == [200.0, 400.0, 2000.0, 2000.0, 2000.0, 2000.0]


def test_unaligned_words_inherit_and_several_links_take_the_last() -> None:
    instance = make_instance(
        "Nun ich werde ja das Buch morgen lesen",
        # "Nun" (first) and "ja" have no link; "lesen" links to "will" and "read".
        ((0, 1), (1, 2), (3, 4), (4, 5), (5, 6), (2, 7), (1, 7)),
    )
    assert oracle_delays_ms(instance, "de") == [
        0.0,
        200.0,
        400.0,
        400.0,
        900.0,
        1300.0,
        2000.0,
        2000.0,
    ]


def test_times_are_relative_to_the_instance_not_the_talk() -> None:
    """offset_samples (48,000 here) does not shift the delays: word times are instance-relative."""
    moved = make_instance(
        VERB_FINAL.target_texts["de"], VERB_FINAL.alignments["de"], offset_samples=0
    )
    assert oracle_delays_ms(moved, "de") == oracle_delays_ms(VERB_FINAL, "de")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"source_words": None}, "must have gold source word times"),
        ({"alignments": {"es": ((0, 0),)}}, "must have gold de alignments"),
        (
            {"alignments": {"de": ((6, 0),)}},
            r"alignment pair \(6, 0\) must index 6 source and 6 target",
        ),
        ({"alignments": {"de": ((0, 6),)}}, r"alignment pair \(0, 6\)"),
        ({"num_samples": 1000 * MS}, "must end inside the instance"),
    ],
)
def test_bad_gold_data_raises(changes: dict, message: str) -> None:
    instance = make_instance(VERB_FINAL.target_texts["de"], VERB_FINAL.alignments["de"], **changes)
    with pytest.raises(ValueError, match=message):
        oracle_delays_ms(instance, "de")
    with pytest.raises(ValueError, match="must have a fr translation"):
        oracle_delays_ms(VERB_FINAL, "fr")


@st.composite
def gold_instances(draw: st.DrawFn) -> Instance:
    num_source = draw(st.integers(1, 8))
    num_target = draw(st.integers(1, 8))
    gaps = draw(st.lists(st.integers(0, 400), min_size=2 * num_source, max_size=2 * num_source))
    words, now = [], 0
    for index in range(num_source):
        start = now + gaps[2 * index]
        now = start + gaps[2 * index + 1]
        words.append(WordSpan(f"s{index}", start * MS, now * MS))
    pairs = draw(st.sets(st.tuples(st.integers(0, num_source - 1), st.integers(0, num_target - 1))))
    return Instance(
        id="random",
        audio_path=Path("x.wav"),
        offset_samples=0,
        num_samples=(now + 1) * MS,
        sample_rate=SR,
        source_text=" ".join(w.word for w in words),
        target_texts={"de": " ".join(f"t{i}" for i in range(num_target))},
        source_words=tuple(words),
        alignments={"de": tuple(sorted(pairs))},
    )


@given(gold_instances())
def test_delays_are_the_least_in_order_schedule(instance: Instance) -> None:
    """Non-decreasing, never before an aligned source word ends, and no later than needed."""
    delays = oracle_delays_ms(instance, "de")
    ends = {t: [] for t in range(len(delays))}
    for s, t in instance.alignments["de"]:
        ends[t].append(instance.source_words[s].end_sample / MS)
    assert len(delays) == len(instance.target_texts["de"].split())
    assert all(a <= b for a, b in zip(delays[:-1], delays[1:], strict=True))
    for t, delay in enumerate(delays):
        assert all(delay >= end for end in ends[t])
        reachable = [end for u in range(t + 1) for end in ends[u]]
        assert delay == (max(reachable) if reachable else 0.0)
        assert delay <= instance.duration_ms


def test_oracle_outputs_are_scorer_records_simuleval_reads(tmp_path: Path) -> None:
    from simuleval.evaluator.instance import LogInstance
    from simuleval.evaluator.scorers.latency_scorer import ALScorer

    (record,) = oracle_outputs([VERB_FINAL], "de")
    stream = record.streams["de"]
    assert (record.index, record.source_type, record.source_length) == (0, "speech", 2200.0)
    assert stream.prediction == stream.reference == "Ich werde morgen das Buch lesen"
    assert stream.delays == (200.0, 400.0, 2000.0, 2000.0, 2000.0, 2000.0) and stream.elapsed == ()
    log = write_instances_log(tmp_path, [record])
    assert dict(read_instances_log(tmp_path)[0].streams) == {"de": stream}
    # AL = (1/6) * sum(d_i - (i-1) * 2200/6) = (8600 - 5500) / 6, computed by SimulEval itself.
    simuleval_view = LogInstance(log.read_text().splitlines()[0])
    assert ALScorer().compute(simuleval_view) == pytest.approx(3100 / 6)


def _run_data(argv: list[str]) -> int:
    """Parse ``simul data ...`` arguments with the real parsers and run the command."""
    import argparse

    from simul.cli import data

    parser = argparse.ArgumentParser(prog="simul")
    data.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["data", *argv])
    return args.run(args)


def test_oracle_command_writes_a_log_simuleval_scores_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import pandas as pd
    from simuleval.evaluator.instance import LogInstance
    from simuleval.evaluator.scorers.latency_scorer import ALScorer, LAALScorer

    from simul.data import benchmark
    from simul.data.benchmark import CorpusSize

    size = CorpusSize({"train": 0, "dev": 0, "test": 4}, {"train": 0, "dev": 0, "test": 1})
    monkeypatch.setitem(benchmark.SIZES, "tiny", size)
    corpus = tmp_path / "corpus"
    argv = ["synth", str(corpus), "--size", "tiny", "--splits", "test", "--no-progress"]
    assert _run_data(argv) == 0
    out = tmp_path / "oracle"
    assert _run_data(["oracle", str(corpus), "--langs", "de", "es", "--output", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "config.yaml", "corpus_scores.tsv", "instance_scores.tsv", "instances.log", "scores.json", "scores.tsv",
    ]  # fmt: skip
    table = capsys.readouterr().out
    assert table.split()[:3] == ["stream", "num_instances", "LAAL"] and "\n    de " in table

    records = read_instances_log(out)
    assert [sorted(r.streams) for r in records] == [["de", "es"]] * 4
    corpus_scores = pd.read_csv(out / "corpus_scores.tsv", sep="\t", index_col="stream")
    # SimulEval rescoring the written log sees the first language's stream.
    simuleval_view = {
        i: LogInstance(line)
        for i, line in enumerate((out / "instances.log").read_text().splitlines())
    }
    assert corpus_scores.loc["de", "AL"] == pytest.approx(ALScorer()(simuleval_view), rel=1e-12)
    assert corpus_scores.loc["de", "LAAL"] == pytest.approx(LAALScorer()(simuleval_view), rel=1e-12)
    # The oracle waits for German verb-final order, not for Spanish (same source, same times).
    assert corpus_scores.loc["de", "AL"] >= corpus_scores.loc["es", "AL"]


def test_oracle_command_without_gold_times_writes_nothing(tmp_path: Path) -> None:
    txt = tmp_path / "test" / "txt"
    txt.mkdir(parents=True)
    (tmp_path / "test" / "wav").mkdir()
    import numpy as np
    import soundfile

    soundfile.write(tmp_path / "test" / "wav" / "t.wav", np.zeros(16000, np.float32), 16000)
    (txt / "test.yaml").write_text("- {duration: 0.5, offset: 0.0, speaker_id: s, wav: t.wav}\n")
    (txt / "test.en").write_text("a dog\n")
    (txt / "test.de").write_text("ein Hund\n")
    with pytest.raises(ValueError, match="must have gold source word times"):
        _run_data(["oracle", str(tmp_path), "--output", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


# --- the oracle at a segment size --------------------------------------------------------------


@given(
    delays=st.lists(st.floats(0, 5_000, allow_nan=False), max_size=20),
    segment_ms=st.integers(1, 1_000),
    source_length_ms=st.floats(1, 6_000, allow_nan=False),
)
def test_segment_delays_are_the_first_segment_end_at_or_after_each_delay(
    delays: list[float], segment_ms: int, source_length_ms: float
) -> None:
    delays = sorted(min(d, source_length_ms) for d in delays)
    rounded = segment_delays_ms(delays, segment_ms, source_length_ms)
    for delay, value in zip(delays, rounded, strict=True):
        assert delay <= value <= source_length_ms
        if value < source_length_ms:  # a segment's end, and the first one at or after the delay
            assert value % segment_ms == 0 and value - segment_ms < delay <= value
        else:  # the last segment ends with the source
            assert source_length_ms - delay <= segment_ms
    assert list(rounded) == sorted(rounded)


def test_the_segment_oracle_rounds_the_exact_one_up_to_segment_ends() -> None:
    # exact: 200 400 2000 2000 2000 2000 (verb-final); 320 ms segments of a 2200 ms source
    exact = oracle_outputs([VERB_FINAL], "de")[0].streams["de"].delays
    segment = oracle_outputs([VERB_FINAL], "de", segment_ms=320)[0].streams["de"].delays
    assert exact == (200.0, 400.0, 2000.0, 2000.0, 2000.0, 2000.0)
    assert segment == (320.0, 640.0, 2200.0, 2200.0, 2200.0, 2200.0)  # 2240 > |X| = 2200
    transcript = transcript_oracle_outputs([VERB_FINAL], segment_ms=400)[0].streams["asr"].delays
    assert transcript == (400.0, 400.0, 800.0, 1200.0, 1600.0, 2000.0)
    with pytest.raises(ValueError, match="segment_ms"):
        segment_delays_ms([1.0], 0, 10.0)
