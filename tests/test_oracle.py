"""Oracle latency: delays from gold word times and alignments, and their records for the scorer."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simul.data.instance import Instance, WordSpan
from simul.data.oracle import oracle_delays_ms, oracle_outputs
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
