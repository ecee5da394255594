"""Latency metrics: hand-computed values, edge cases, validation, and parity with SimulEval 1.1.4.

The parity tests score generated corpora with ``compute_latency`` and with SimulEval 1.1.4's
scorer classes (``LogInstance`` built from JSON lines; ``TextToTextInstance`` for text input so
that ATD takes the text constants).  Every metric but ATD must be bit-identical; ATD, whose
per-instance mean SimulEval rounds from the exact sum, must agree within 1e-9.
"""

from __future__ import annotations

import io
import json
import logging
import math
import random
import statistics

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simuleval.evaluator.instance import LogInstance, TextToTextInstance
from simuleval.evaluator.scorers.latency_scorer import LATENCY_SCORERS_DICT

from simul.eval._latency_batch import _divmod_token_ms
from simul.eval.latency import (
    LATENCY_METRICS,
    LatencyInputs,
    average_lagging,
    average_proportion,
    average_token_delay,
    compute_latency,
    corpus_mean,
    differentiable_average_lagging,
    end_offset,
    length_adaptive_average_lagging,
    num_chunks,
    real_time_factor,
    reference_length,
    start_offset,
)

# SimulEval warns, through a deprecated logging call, for every skipped instance.
logging.getLogger("simuleval").setLevel(logging.ERROR)
pytestmark = pytest.mark.filterwarnings("ignore:The 'warn' method is deprecated:DeprecationWarning")

PARITY = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


def _one(delays, source_length, reference=None, elapsed=(), source_type="speech"):
    return LatencyInputs(
        delays=[delays],
        elapsed=[elapsed],
        source_lengths=[source_length],
        reference_lengths=[reference],
        source_type=source_type,
    )


def _close(ours: float, theirs: float) -> bool:
    if math.isnan(ours) or math.isnan(theirs):
        return math.isnan(ours) and math.isnan(theirs)
    return math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-9)


# ------------------------------------------------------------------------------------------------
# Hand-computed values.


def test_average_lagging_wait_one_is_one():
    # gamma = 1; terms 1-0, 2-1, 3-2, 4-3; the cut-off is at d = 4 = |X|.
    assert average_lagging([1, 2, 3, 4], 4, 4) == 1.0


def test_average_lagging_stops_at_first_delay_reaching_the_source():
    # gamma = 4/4; terms 2, 3-1, then d = 4 >= |X| stops the sum: (2 + 2 + 2) / 3.
    assert average_lagging([2, 3, 4, 4, 4], 4, 4) == 2.0


def test_average_lagging_first_delay_past_source_is_returned_as_is():
    assert average_lagging([5, 6], 4, 2) == 5.0
    # equal to |X| is not past it: the ordinary formula, tau = 1.
    assert average_lagging([4, 6], 4, 2) == 4.0


def test_average_lagging_over_generation_against_reference_is_negative():
    # gamma = 3/6; terms d_i - 2(i-1) = 1, 0, -1, -2, -3, -4; tau = 6.
    assert average_lagging([1, 2, 3, 4, 5, 6], 6, 3) == -1.5


def test_average_lagging_delays_that_never_reach_the_source():
    # gamma = 4/10; terms 1 - 0 and 2 - 2.5; tau = |Y| = 2.
    assert average_lagging([1, 2], 10, 4) == 0.25


def test_length_adaptive_average_lagging_uses_the_longer_length():
    # over-generation: gamma = max(6, 3)/6 = 1, every term is 1.
    assert length_adaptive_average_lagging([1, 2, 3, 4, 5, 6], 6, 3) == 1.0
    # under-generation: the reference is longer, so LAAL is AL.
    assert length_adaptive_average_lagging([1, 2], 10, 4) == average_lagging([1, 2], 10, 4)


def test_average_proportion_divides_by_the_reference_length():
    assert average_proportion([1, 2, 3], 3, 3) == 6 / 9
    assert average_proportion([1, 2, 3], 3, 2) == 1.0
    assert average_proportion([2, 3, 3], 3, 2) > 1.0


def test_differentiable_average_lagging_spreads_a_burst():
    # gamma = 1; g' = 2, max(2, 3) = 3, max(2, 4) = 4; terms 2, 2, 2.
    assert differentiable_average_lagging([2, 2, 2], 3) == 2.0
    # no shortcut when the first delay is past the source: g' = 5, 6.5; terms 5, 5.
    assert differentiable_average_lagging([5, 5], 3) == 5.0


def test_offsets_rtf_and_chunks():
    assert start_offset([320, 640, 960]) == 320.0
    assert end_offset([320, 640, 960], 1000.0) == -40.0
    assert real_time_factor([320, 640, 1200], 1000.0) == 1.2
    assert num_chunks([320, 640, 640]) == 3.0


def test_average_token_delay_text_wait_one():
    # one source token per write; each target token ends 1 after its source token ends.
    assert average_token_delay([1, 2, 3], [], source_type="text", computation_aware=False) == 1.0


def test_average_token_delay_text_burst():
    # two source tokens (ends 1, 2), two target tokens ending at 3 and 4: delays 2 and 2.
    assert average_token_delay([2, 2], [], source_type="text", computation_aware=False) == 2.0


def test_average_token_delay_speech_splits_source_into_300_ms_tokens():
    # chunk 1: 600 ms -> tokens ending 300, 600; chunk 2: 300 ms -> 900.  Targets end at their
    # delays (length 0): 600 - 300, 600 - 600, 900 - 900.
    delays = [600, 600, 900]
    assert average_token_delay(delays, [], source_type="speech", computation_aware=False) == 100.0
    # 450 ms -> a 300 ms token and a 150 ms remainder; the only target pairs with the first.
    assert average_token_delay([450], [], source_type="speech", computation_aware=False) == 150.0


def test_average_token_delay_computation_aware_adds_compute_time():
    # overhead 100 then 200 -> compute 100, 100.  Target ends 700 and max(900, 700) + 100.
    # Target 2 pairs with source token 2 (ends 600) since AccY = 1 < AccX = 2.
    value = average_token_delay(
        [600, 900], [700, 1100], source_type="speech", computation_aware=True
    )
    assert value == 400.0


@pytest.mark.parametrize(
    ("metric", "expected"),
    [("AL", -1.5), ("LAAL", 1.0), ("AP", 21 / 18), ("DAL", 1.0), ("NumChunks", 6.0)],
)
def test_batch_matches_hand_computed_values(metric, expected):
    values = compute_latency(_one([1, 2, 3, 4, 5, 6], 6, reference=3, source_type="text"))
    assert values[metric][0] == expected


def test_use_ref_len_off_takes_the_hypothesis_length():
    inputs = _one([1, 2, 3, 4, 5, 6], 6, reference=3)
    values = compute_latency(inputs, ["AL", "AP"], use_ref_len=False)
    assert values["AL"][0] == 1.0
    assert values["AP"][0] == 21 / 36


def test_missing_reference_takes_the_hypothesis_length():
    values = compute_latency(_one([1, 2, 3, 4, 5, 6], 6, reference=None), ["AL"])
    assert values["AL"][0] == 1.0


def test_single_unit():
    values = compute_latency(_one([700.0], 1000.0, reference=1, elapsed=[750.0]))
    assert values["AL"][0] == 700.0
    assert values["DAL"][0] == 700.0
    assert values["ATD"][0] == 400.0  # 700 ms -> tokens ending 300, 600, 700; pairs with 300


def test_empty_delays_are_skipped_as_nan():
    inputs = LatencyInputs(
        delays=[[], [1, 2]],
        elapsed=[[], []],
        source_lengths=[2, 2],
        reference_lengths=[2, 2],
        source_type="text",
    )
    values = compute_latency(inputs)
    for metric in LATENCY_METRICS:
        assert math.isnan(values[metric][0])
        assert not math.isnan(values[metric][1])
    assert corpus_mean(values["AL"]) == values["AL"][1]


def test_computation_aware_skips_instances_without_elapsed():
    inputs = LatencyInputs(
        delays=[[100.0, 200.0], [100.0]],
        elapsed=[[150.0, 260.0], []],
        source_lengths=[200.0, 200.0],
        reference_lengths=[2, 1],
        source_type="speech",
    )
    aware = compute_latency(inputs, computation_aware=True)
    plain = compute_latency(inputs)
    for metric in LATENCY_METRICS:
        assert not math.isnan(aware[metric][0])
        assert math.isnan(aware[metric][1])
        assert not math.isnan(plain[metric][1])
    assert aware["StartOffset"][0] == 150.0
    assert plain["StartOffset"][0] == 100.0


def test_all_empty_corpus_mean_is_nan():
    inputs = LatencyInputs(
        delays=[[], []],
        elapsed=[[], []],
        source_lengths=[1.0, 2.0],
        reference_lengths=[None, None],
        source_type="speech",
    )
    assert math.isnan(corpus_mean(compute_latency(inputs)["AL"]))
    assert math.isnan(corpus_mean(np.array([])))


def test_plain_columns_ignore_elapsed():
    """SimulEval 1.1.4 issue 44: computation-aware scoring must not leak into the plain columns."""
    base = dict(delays=[[300.0, 600.0, 600.0]], source_lengths=[700.0], reference_lengths=[4])
    slow = compute_latency(
        LatencyInputs(**base, elapsed=[[900.0, 1500.0, 2000.0]], source_type="speech")
    )
    none = compute_latency(LatencyInputs(**base, elapsed=[[]], source_type="speech"))
    for metric in LATENCY_METRICS:
        assert slow[metric][0] == none[metric][0]


# ------------------------------------------------------------------------------------------------
# Reference length, corpus mean.


def test_reference_length_word_splits_on_single_spaces():
    assert reference_length("a b c", "word") == 3
    assert reference_length(" a  b ", "word") == 5


def test_reference_length_char_counts_stripped_string_with_spaces():
    assert reference_length("  ab c \n", "char") == 4


def test_reference_length_spm_counts_pieces():
    sentencepiece = pytest.importorskip("sentencepiece")
    model = io.BytesIO()
    lines = ["the quick brown fox jumps over the lazy dog", "a stitch in time saves nine"] * 20
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, vocab_size=30, minloglevel=2
    )
    processor = sentencepiece.SentencePieceProcessor(model_proto=model.getvalue())
    text = "the quick fox"
    assert reference_length(text, "spm", processor) == len(processor.encode(text, out_type=str))


def test_reference_length_rejects_bad_unit_and_missing_model():
    with pytest.raises(ValueError, match="spm_model"):
        reference_length("a b", "spm")
    with pytest.raises(ValueError, match="`unit` must be word, char or spm"):
        reference_length("a b", "token")  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12),
            st.floats(min_value=1e-300, max_value=1e-290),
            st.just(math.nan),
        ),
        max_size=50,
    )
)
def test_corpus_mean_equals_statistics_mean_bit_for_bit(values):
    kept = [value for value in values if not math.isnan(value)]
    expected = float(statistics.mean(kept)) if kept else math.nan
    result = corpus_mean(np.array(values, dtype=np.float64))
    assert result == expected or (math.isnan(result) and math.isnan(expected))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(0.0, 1e9, allow_subnormal=False),
            st.integers(0, 10**6).map(lambda k: math.nextafter(300.0 * k, 0.0)),
            st.integers(0, 10**6).map(lambda k: 300.0 * k),
        ),
        max_size=20,
    )
)
def test_fast_divmod_equals_python_divmod(spans):
    whole, rest = _divmod_token_ms(np.array(spans, dtype=np.float64))
    assert whole.tolist() == [divmod(span, 300.0)[0] for span in spans]
    assert rest.tolist() == [divmod(span, 300.0)[1] for span in spans]


# ------------------------------------------------------------------------------------------------
# Validation.


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"delays": [[1.0, 2.0], [1.0, math.nan]]}, r"`delays\[1\]` of instance 1 must be finite"),
        ({"delays": [[1.0, 2.0], [1.0, math.inf]]}, r"`delays\[1\]` of instance 1 must be finite"),
        ({"delays": [[-1.0, 2.0], [1.0, 2.0]]}, r"`delays\[0\]` of instance 0 must be >= 0"),
        ({"delays": [[1.0, 2.0], [3.0, 2.0]]}, r"`delays\[1\]` of instance 1 must be non-decr"),
        ({"elapsed": [[1.0], []]}, r"`elapsed` of instance 0 must hold 2 values"),
        ({"elapsed": [[], [1.0, -3.0]]}, r"`elapsed\[1\]` of instance 1 must be >= 0"),
        ({"source_lengths": [3.0, 0.0]}, r"`source_lengths\[1\]` must be finite and > 0"),
        ({"source_lengths": [3.0, math.nan]}, r"`source_lengths\[1\]` must be finite and > 0"),
        ({"source_lengths": [None, 3.0]}, r"`source_lengths\[0\]` must be finite and > 0"),
        ({"reference_lengths": [True, None]}, r"`reference_lengths\[0\]` must be a positive int"),
        ({"reference_lengths": [0, None]}, r"`reference_lengths\[0\]` must be a positive int"),
        ({"reference_lengths": [2.5, None]}, r"`reference_lengths\[0\]` must be a positive int"),
        ({"reference_lengths": [2]}, r"`reference_lengths` must hold one entry per instance"),
        ({"delays": [[1.0, 2.0], ["a"]]}, r"`delays` of instance 1 must be a sequence of numbers"),
        ({"source_type": "video"}, r"`source_type` must be 'speech' or 'text'"),
    ],
)
def test_invalid_inputs_name_instance_and_field(change, message):
    fields = dict(
        delays=[[1.0, 2.0], [1.0, 2.0]],
        elapsed=[[], []],
        source_lengths=[3.0, 3.0],
        reference_lengths=[2, None],
        source_type="speech",
    )
    with pytest.raises(ValueError, match=message):
        LatencyInputs(**{**fields, **change})


def test_text_input_needs_whole_numbers():
    with pytest.raises(ValueError, match=r"`delays\[1\]` of instance 0 must be whole numbers"):
        _one([1.0, 1.5], 3, source_type="text")
    with pytest.raises(ValueError, match=r"`source_lengths\[0\]` must be a positive whole"):
        _one([1.0, 2.0], 2.5, source_type="text")


def test_decreasing_across_instances_is_fine():
    inputs = LatencyInputs(
        delays=[[], [5.0, 6.0], [], [1.0]],
        elapsed=[[], [], [], []],
        source_lengths=[6.0] * 4,
        reference_lengths=[None] * 4,
        source_type="speech",
    )
    assert compute_latency(inputs, ["AL"])["AL"][3] == 1.0


def test_unknown_metric_is_rejected():
    with pytest.raises(ValueError, match="`metrics` must be among"):
        compute_latency(_one([1.0], 1.0), ["AL", "BLEU"])


def test_per_instance_functions_reject_empty_delays():
    with pytest.raises(ValueError, match="`delays` must hold at least one delay"):
        average_lagging([], 3, 3)
    with pytest.raises(ValueError, match="`source_length` must be > 0"):
        differentiable_average_lagging([1.0], 0.0)


# ------------------------------------------------------------------------------------------------
# Generated corpora: batch == per-instance functions == SimulEval 1.1.4.


@st.composite
def _instances(draw, source_type: str) -> dict:
    """One instance: monotone delays with runs, possibly past the source end, over/under-long."""
    long = draw(st.booleans())
    count = draw(st.integers(0, 60 if long else 8))
    if source_type == "text":
        source_length = draw(st.integers(1, 40 if long else 6))
        steps = st.sampled_from([0, 0, 0, 1, 1, 2, 5])
    else:
        source_length = draw(
            st.one_of(st.integers(1, 30000), st.floats(0.5, 30000.0, allow_subnormal=False))
        )
        steps = st.one_of(
            st.just(0),
            st.sampled_from([40, 160, 300, 320, 600]),
            st.integers(1, 3000),
            st.floats(0.001, 3000.0, allow_subnormal=False),
        )
    first = draw(st.one_of(st.just(0), steps)) if source_type == "speech" else draw(steps)
    delays = [float(first)]
    for _ in range(count - 1):
        delays.append(delays[-1] + draw(steps))
    delays = delays[:count]
    elapsed_kind = draw(st.sampled_from(["none", "zeros", "measured"]))
    if elapsed_kind == "none" or not delays:
        elapsed = []
    elif elapsed_kind == "zeros":
        elapsed = [0.0] * len(delays)
    else:
        compute = draw(st.lists(st.floats(0.0, 500.0), min_size=count, max_size=count))
        elapsed = (np.asarray(delays) + np.cumsum(compute)).tolist()
    reference = draw(st.one_of(st.none(), st.integers(1, 70 if long else 10)))
    return {
        "delays": delays,
        "elapsed": elapsed,
        "source_length": source_length,
        "reference": reference,
    }


def _corpora(source_type: str):
    return st.lists(_instances(source_type), min_size=1, max_size=5)


def _inputs(corpus: list[dict], source_type: str) -> LatencyInputs:
    return LatencyInputs(
        delays=[item["delays"] for item in corpus],
        elapsed=[item["elapsed"] for item in corpus],
        source_lengths=[item["source_length"] for item in corpus],
        reference_lengths=[item["reference"] for item in corpus],
        source_type=source_type,
    )


def _simuleval_instance(index: int, item: dict, source_type: str, metric: str, aware: bool):
    """A SimulEval 1.1.4 instance: a text-input instance where SimulEval takes text constants."""
    reference = None if item["reference"] is None else " ".join(["w"] * item["reference"])
    if source_type == "speech" or (aware and metric != "ATD"):
        # SimulEval refuses computation-aware scoring of a live text-input instance, but
        # scores a log of one (and with the same formula); use a log for those.
        line = {
            "index": index,
            "prediction": " ".join(["p"] * len(item["delays"])),
            "delays": item["delays"],
            "elapsed": item["elapsed"],
            "source_length": item["source_length"],
            "reference": reference,
        }
        return LogInstance(json.dumps(line))
    instance = TextToTextInstance(index, None, None)
    instance.latency_unit = "word"
    instance.source = ["s"] * int(item["source_length"])
    instance.reference = reference
    instance.delays = [int(delay) for delay in item["delays"]]
    instance.elapsed = list(item["elapsed"])
    return instance


def _simuleval_score(corpus, source_type, metric, aware, use_ref_len) -> float:
    instances = {
        index: _simuleval_instance(index, item, source_type, metric, aware)
        for index, item in enumerate(corpus)
    }
    scorer = LATENCY_SCORERS_DICT[metric](computation_aware=aware, use_ref_len=use_ref_len)
    try:
        return float(scorer(instances))
    except statistics.StatisticsError:  # every instance skipped
        return math.nan


def _assert_parity(corpus, source_type):
    inputs = _inputs(corpus, source_type)
    for aware in (False, True):
        for use_ref_len in (True, False):
            ours = compute_latency(inputs, computation_aware=aware, use_ref_len=use_ref_len)
            for metric in LATENCY_METRICS:
                case = f"{metric} aware={aware} use_ref_len={use_ref_len}"
                theirs = _simuleval_score(corpus, source_type, metric, aware, use_ref_len)
                mine = corpus_mean(ours[metric])
                assert _close(mine, theirs), f"corpus {case}: {mine!r} != {theirs!r}"
                if metric != "ATD":
                    assert mine == theirs or math.isnan(theirs), f"corpus {case} not identical"
                for index, item in enumerate(corpus):
                    theirs = _simuleval_score([item], source_type, metric, aware, use_ref_len)
                    mine = float(ours[metric][index])
                    assert _close(mine, theirs), f"instance {index} {case}: {mine!r} != {theirs!r}"
                    if metric != "ATD":
                        assert mine == theirs or math.isnan(theirs), f"{index} {case} not identical"


@PARITY
@given(_corpora("speech"))
def test_speech_parity_with_simuleval(corpus):
    _assert_parity(corpus, "speech")


@PARITY
@given(_corpora("text"))
def test_text_parity_with_simuleval(corpus):
    _assert_parity(corpus, "text")


def _reference_values(item: dict, source_type: str, aware: bool, use_ref_len: bool) -> dict:
    """Per-instance functions, as a dict of metric values (NaN where SimulEval skips)."""
    times = item["elapsed"] if aware else item["delays"]
    if not times:
        return {metric: math.nan for metric in LATENCY_METRICS}
    source = item["source_length"]
    target = item["reference"] if use_ref_len and item["reference"] is not None else len(times)
    return {
        "AL": average_lagging(times, source, target),
        "LAAL": length_adaptive_average_lagging(times, source, target),
        "AP": average_proportion(times, source, target),
        "DAL": differentiable_average_lagging(times, source),
        "ATD": average_token_delay(
            item["delays"], item["elapsed"], source_type=source_type, computation_aware=aware
        ),
        "StartOffset": start_offset(times),
        "EndOffset": end_offset(times, source),
        "RTF": real_time_factor(times, source),
        "NumChunks": num_chunks(times),
    }


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.sampled_from(["speech", "text"]), st.data())
def test_batch_equals_per_instance_functions(source_type, data):
    corpus = data.draw(st.lists(_instances(source_type), min_size=1, max_size=12))
    inputs = _inputs(corpus, source_type)
    for aware in (False, True):
        for use_ref_len in (True, False):
            ours = compute_latency(inputs, computation_aware=aware, use_ref_len=use_ref_len)
            for index, item in enumerate(corpus):
                expected = _reference_values(item, source_type, aware, use_ref_len)
                for metric in LATENCY_METRICS:
                    mine = float(ours[metric][index])
                    if metric == "ATD":
                        assert _close(mine, expected[metric]), (index, metric, aware)
                    else:
                        assert (
                            mine == expected[metric]
                            or _close(mine, math.nan)
                            and math.isnan(expected[metric])
                        ), (index, metric, aware, mine, expected[metric])


def test_batched_equals_one_by_one_over_many_lengths():
    """Many blocks and paddings: a corpus scores each instance as it scores it alone."""
    rng = random.Random(7)
    corpus = []
    # lengths 48-52 share a length group of 450 rows: two blocks of 16384 cells
    for count in [0, 1, 2, 3, 5, 8, 13, 40, 41, 90, 200, 333] * 3 + [48, 50, 52] * 150:
        source_ms = rng.uniform(500.0, 40000.0)
        delays = sorted(
            rng.choice([rng.uniform(0, source_ms * 1.1), source_ms]) for _ in range(count)
        )
        compute = np.cumsum([rng.expovariate(1 / 30) for _ in range(count)])
        corpus.append(
            {
                "delays": delays,
                "elapsed": (np.asarray(delays) + compute).tolist() if count else [],
                "source_length": source_ms,
                "reference": rng.choice([None, max(1, count + rng.randint(-10, 10))]),
            }
        )
    rng.shuffle(corpus)
    inputs = _inputs(corpus, "speech")
    for aware in (False, True):
        together = compute_latency(inputs, computation_aware=aware)
        for index, item in enumerate(corpus):
            alone = compute_latency(_inputs([item], "speech"), computation_aware=aware)
            for metric in LATENCY_METRICS:
                a, b = together[metric][index], alone[metric][0]
                assert a == b or (math.isnan(a) and math.isnan(b)), (index, metric, aware)
