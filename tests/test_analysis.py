"""simul.analysis: the latency–quality table of runs, its Pareto front and plot; one instance's timeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from simul.analysis import (
    ORACLE_LABEL,
    find_instance,
    oracle_latency,
    pareto_front,
    pareto_table,
    plot_latency_quality,
    plot_streams,
    plot_timeline,
    read_runs,
    read_scores,
    word_timeline,
)
from simul.eval.records import InstanceOutput, StreamOutput
from simul.eval.report import write_scores
from simul.eval.scoring import ScoringConfig, score

EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "examples"


def _joint(index: int, lag_ms: float) -> InstanceOutput:
    """A joint output of 4 source and 3 target words; the target lags by ``lag_ms``."""
    return InstanceOutput(
        index=index, source_type="speech", source_length=1200.0,
        streams={
            "asr": StreamOutput(prediction="a b c d", delays=(300.0, 600.0, 900.0, 1200.0),
                                elapsed=(310.0, 620.0, 930.0, 1250.0), reference="a b c e"),
            "st": StreamOutput(prediction="x y z", delays=(300.0 + lag_ms, 600.0 + lag_ms, 1200.0),
                               elapsed=(350.0 + lag_ms, 700.0 + lag_ms, 1300.0), reference="x y z w"),
        },
    )  # fmt: skip


def _write_run(directory: Path, lag_ms: float, **policy) -> Path:
    """A simul eval output directory's scores, with the provenance simul eval records."""
    scores = score(
        [_joint(0, lag_ms), _joint(1, lag_ms / 2)], ScoringConfig(computation_aware=True)
    )
    write_scores(
        directory, scores, model={"model": "toy"}, segment_ms=320, target_lang="de",
        policy={"name": policy.pop("name", "waitk"), "class": "X", "parameters": {**policy, "segment_ms": 320}},
    )  # fmt: skip
    return directory


def _write_oracle(directory: Path) -> Path:
    oracle = InstanceOutput(index=0, source_type="speech", source_length=1200.0,
                            streams={"de": StreamOutput(prediction="x y z w", delays=(100.0, 400.0, 700.0, 1000.0))})  # fmt: skip
    write_scores(
        directory, score([oracle], ScoringConfig(quality_metrics=())), corpus="c", split="test"
    )
    return directory


def test_read_scores_gives_the_table_and_its_provenance(tmp_path):
    run = _write_run(tmp_path / "run", 100.0, k=2)
    table, provenance = read_scores(run)
    assert list(table["stream"]) == ["asr", "st"]
    assert {"WER", "BLEU", "LAAL", "LAAL_CA"} <= set(table.columns)
    assert provenance["inputs"]["policy"]["parameters"] == {"k": 2, "segment_ms": 320}
    same, _ = read_scores(run / "scores.tsv")
    pd.testing.assert_frame_equal(table, same)
    full = pd.read_csv(
        run / "corpus_scores.tsv", sep="\t"
    )  # full precision, not scores.tsv's 3 decimals
    pd.testing.assert_frame_equal(table, full)


def test_read_scores_reads_the_commented_scores_tsv_of_older_runs(tmp_path):
    (tmp_path / "scores.tsv").write_text(
        '# inputs: {"policy": {"name": "waitk"}}\nstream\tAL\nmain\t1.25\n'
    )
    table, provenance = read_scores(tmp_path)
    assert table.to_dict(orient="list") == {"stream": ["main"], "AL": [1.25]}
    assert provenance == {"inputs": {"policy": {"name": "waitk"}}}


def test_read_scores_names_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="scores.tsv"):
        read_scores(tmp_path)
    with pytest.raises(ValueError, match="`stream` column"):  # SimulEval's own scores.tsv
        read_scores(EXAMPLES / "simuleval_speech")
    (tmp_path / "scores.tsv").write_text("# inputs {not json\nstream\tAL\nmain\t1\n")
    with pytest.raises(ValueError, match=r"scores.tsv:1: a header line"):
        read_scores(tmp_path)


def test_read_runs_finds_the_curves_and_their_points(tmp_path):
    runs = [
        _write_run(tmp_path / "w1", 100.0, k=1),
        _write_run(tmp_path / "w3", 400.0, k=3),
        _write_run(tmp_path / "m5", 50.0, name="monotonic", threshold=0.5, source_step="any"),
        _write_run(tmp_path / "m9", 200.0, name="monotonic", threshold=0.9, source_step="any"),
        _write_run(tmp_path / "e5", 80.0, name="monotonic", threshold=0.5, source_step="last"),
    ]
    table = read_runs(runs, oracle=_write_oracle(tmp_path / "oracle"))
    st_rows = table[table["stream"] == "st"]
    assert list(st_rows["label"]) == ["waitk"] * 2 + ["monotonic, source_step=any"] * 2 + [
        "monotonic, source_step=last"
    ]
    assert list(st_rows["varied"]) == ["k=1", "k=3", "threshold=0.5", "threshold=0.9", ""]
    assert st_rows["param.k"].tolist()[:2] == [1, 3]
    assert table["segment_ms"].dtype == "Int64" and set(st_rows["segment_ms"]) == {320}
    oracle = table[table["label"] == ORACLE_LABEL]
    assert list(oracle["stream"]) == ["de"] and oracle["segment_ms"].isna().all()
    # the numbers are the run's own
    scores, _ = read_scores(runs[1])
    assert st_rows.iloc[1]["LAAL"] == scores.set_index("stream").loc["st", "LAAL"]


def test_a_scored_log_without_a_policy_is_one_point_named_by_its_directory(tmp_path):
    scores = score([_joint(0, 10.0)])
    write_scores(tmp_path / "myrun" / "simul-scores", scores, log="x/instances.log", log_sha256="0")
    table = read_runs([tmp_path / "myrun" / "simul-scores"])
    assert set(table["label"]) == {"myrun"} and set(table["varied"]) == {""}
    assert table["segment_ms"].isna().all()
    figure = plot_streams(table)["st"]  # no segment size: still drawn
    assert [line.get_label() for line in figure.axes[0].get_lines()] == ["myrun"]


def test_runs_of_several_models_are_told_apart(tmp_path):
    first = _write_run(tmp_path / "a", 100.0, k=1)
    scores = score([_joint(0, 10.0)])
    write_scores(tmp_path / "b", scores, model={"checkpoint": "runs/big/last.pt"}, segment_ms=320,
                 policy={"name": "waitk", "parameters": {"k": 1, "segment_ms": 320}})  # fmt: skip
    labels = read_runs([first, tmp_path / "b"]).drop_duplicates("label")["label"].tolist()
    assert labels == ["waitk (toy)", "waitk (runs/big/last.pt)"]


def test_the_oracle_of_the_st_stream_is_its_language():
    table = pd.DataFrame({
        "label": ["waitk", ORACLE_LABEL, ORACLE_LABEL], "stream": ["st", "de", "es"],
        "LAAL": [500.0, 300.0, 250.0], "num_instances": [3, 3, 3],
    })  # fmt: skip
    assert oracle_latency(table, "st", oracle_lang="es") == {"LAAL": 250.0}
    assert oracle_latency(table, "st") == {}  # two languages: which one is not guessed
    assert oracle_latency(table.iloc[:2], "st") == {"LAAL": 300.0}  # the only one
    assert oracle_latency(table, "de") == {"LAAL": 300.0}
    assert oracle_latency(table, "asr") == {}
    transcript = pd.DataFrame({"label": [ORACLE_LABEL], "stream": ["asr"], "LAAL": [200.0]})
    assert oracle_latency(transcript, "st") == {} and oracle_latency(transcript, "asr") == {
        "LAAL": 200.0
    }


def test_pareto_front_by_hand():
    latency = [100.0, 200.0, 150.0, 300.0, 200.0, np.nan]
    bleu = [10.0, 20.0, 9.0, 20.0, 20.0, 50.0]
    assert pareto_front(latency, bleu).tolist() == [True, True, False, False, True, False]
    wer = [30.0, 20.0, 40.0, 10.0, 25.0, 1.0]
    assert pareto_front(latency, wer, higher_is_better=False).tolist() == [
        True,
        True,
        False,
        True,
        False,
        False,
    ]
    with pytest.raises(ValueError, match="1-D of one length"):
        pareto_front([1.0, 2.0], [1.0])


_POINTS = st.lists(
    st.tuples(st.integers(0, 20).map(float), st.integers(0, 20).map(float)), min_size=1, max_size=25
)


@settings(max_examples=200, deadline=None)
@given(_POINTS)
def test_the_front_is_exactly_the_points_nothing_beats(points):
    latency, quality = (np.array(values) for values in zip(*points, strict=True))
    front = pareto_front(latency, quality)

    def beats(j: int, i: int) -> bool:
        return bool(latency[j] <= latency[i] and quality[j] >= quality[i]
                    and (latency[j] < latency[i] or quality[j] > quality[i]))  # fmt: skip

    for i in range(len(points)):
        assert front[i] == (not any(beats(j, i) for j in range(len(points))))
    # every point off the front is beaten by a point on it
    for i in np.flatnonzero(~front):
        assert any(beats(j, i) for j in np.flatnonzero(front))
    # WER-like quality: the front of the negated values
    assert (pareto_front(latency, -quality, higher_is_better=False) == front).all()


def test_pareto_table_is_per_stream_and_knows_wer_is_better_lower():
    table = pd.DataFrame({
        "label": ["a", "b", "a", "b", ORACLE_LABEL], "stream": ["st", "st", "asr", "asr", "de"],
        "BLEU": [20.0, 30.0, np.nan, np.nan, np.nan], "WER": [np.nan, np.nan, 10.0, 30.0, np.nan],
        "LAAL": [100.0, 100.0, 300.0, 200.0, 50.0],
    })  # fmt: skip
    result = pareto_table(table, ["LAAL", "LAAL_CA"])
    assert result["pareto_LAAL"].tolist() == [False, True, True, True, False]
    assert "pareto_LAAL_CA" not in result


def test_plot_latency_quality_draws_each_axis_each_curve_and_the_oracle(tmp_path):
    table = read_runs([_write_run(tmp_path / "w1", 100.0, k=1), _write_run(tmp_path / "w3", 400.0, k=3),
                       _write_run(tmp_path / "w5", 400.0, name="edatt", alpha=0.2)],
                      oracle=_write_oracle(tmp_path / "oracle"))  # fmt: skip
    points = table[(table["label"] != ORACLE_LABEL) & (table["stream"] == "st")]
    figure = plot_latency_quality(points, quality="BLEU", latency_axes=["LAAL", "AL"], oracle={"LAAL": 300.0},
                                  title="t")  # fmt: skip
    assert len(figure.axes) == 4
    first = figure.axes[0]
    assert [line.get_label() for line in first.get_lines()] == [
        "waitk (320 ms)",
        "edatt (320 ms)",
        "oracle LAAL",
    ]
    assert first.get_lines()[0].get_xdata().tolist() == sorted(
        points.loc[points["label"] == "waitk", "LAAL"]
    )
    assert list(first.get_lines()[2].get_xdata()) == [300.0, 300.0]
    low, high = first.get_xlim()  # the oracle line is inside the axes, not on a spine
    assert low < min(300.0, points["LAAL"].min()) and high > points["LAAL"].max()
    assert [t.get_text() for t in first.texts] == ["k=1", "k=3"]
    assert first.get_title() == "t: BLEU vs LAAL, non computation-aware (2 instances)"
    assert figure.axes[1].get_xlabel() == "LAAL_CA (ms)"

    figures = plot_streams(table, oracle_lang="de")
    assert list(figures) == ["asr", "st"]
    assert figures["asr"].axes[0].get_ylabel() == "WER" and len(figures["asr"].axes) == 2
    st_lines = [line.get_label() for line in figures["st"].axes[0].get_lines()]
    assert st_lines[-1] == "oracle LAAL" and "oracle LAAL" not in [
        line.get_label() for line in figures["asr"].axes[0].get_lines()
    ]


def test_word_timeline_ideal_and_lag_give_the_scorers_laal():
    instance = _joint(0, 100.0)
    timeline = word_timeline(instance)
    st_rows = timeline[timeline["stream"] == "st"]
    assert st_rows["word"].tolist() == ["x", "y", "z"] and st_rows["position"].tolist() == [1, 2, 3]
    # |X| = 1200, max(|Y|, |Y*|) = max(3, 4): the ideal writer writes a word every 300 ms
    assert st_rows["ideal_ms"].tolist() == [0.0, 300.0, 600.0]
    assert st_rows["lag_ms"].tolist() == [400.0, 400.0, 600.0]
    assert st_rows["elapsed_ms"].tolist() == [450.0, 800.0, 1300.0]
    laal = score([instance], ScoringConfig(latency_metrics=("LAAL",))).corpus["LAAL"]
    assert st_rows["lag_ms"].mean() == pytest.approx(laal["st"])  # the last word reads all: tau = 3


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(0, 3000), min_size=1, max_size=12).map(sorted),
    st.integers(1, 15),
    st.integers(500, 3000),
)
def test_the_lag_up_to_the_first_word_after_the_source_is_laal(delays, reference_words, source_ms):
    words = " ".join(f"w{i}" for i in range(len(delays)))
    stream = StreamOutput(prediction=words, delays=tuple(map(float, delays)),
                          reference=" ".join(["r"] * reference_words))  # fmt: skip
    instance = InstanceOutput(
        index=0, source_type="speech", source_length=float(source_ms), streams={"st": stream}
    )
    assume(delays[0] <= source_ms)  # else SimulEval's shortcut: LAAL is d_1
    lag = word_timeline(instance)["lag_ms"].to_numpy()
    reached = [i for i, d in enumerate(delays) if d >= source_ms]
    tau = reached[0] + 1 if reached else len(delays)
    laal = score(
        [instance], ScoringConfig(latency_metrics=("LAAL",), quality_metrics=())
    ).corpus.loc["st", "LAAL"]
    assert lag[:tau].mean() == pytest.approx(laal, rel=1e-9, abs=1e-9)


def test_word_timeline_refuses_what_it_cannot_draw():
    text = InstanceOutput(index=4, source_type="text", source_length=3,
                          streams={"main": StreamOutput(prediction="a b", delays=(1.0, 2.0))})  # fmt: skip
    with pytest.raises(ValueError, match="speech input"):
        word_timeline(text)
    chars = InstanceOutput(index=5, source_type="speech", source_length=1000.0,
                           streams={"main": StreamOutput(prediction="ab c", delays=(1.0, 2.0, 3.0))})  # fmt: skip
    with pytest.raises(ValueError, match="instance 5: stream `main` has 3 delays for 2 words"):
        word_timeline(chars)


def test_find_instance():
    instances = [_joint(3, 0.0), _joint(7, 0.0)]
    assert find_instance(instances).index == 3 and find_instance(instances, 7).index == 7
    with pytest.raises(ValueError, match=r"indices \(3\.\.7\), but is 5"):
        find_instance(instances, 5)
    with pytest.raises(ValueError, match="empty"):
        find_instance([])


def test_plot_timeline_has_a_panel_per_stream_with_its_laal():
    instance = _joint(0, 100.0)
    figure = plot_timeline(instance)
    assert len(figure.axes) == 2
    laal = score(
        [instance], ScoringConfig(latency_metrics=("LAAL",), computation_aware=True)
    ).corpus
    title = figure.axes[1].get_title()
    assert title.startswith("instance 0, stream st: 3 words (reference 4)")
    assert (
        f"LAAL {laal.loc['st', 'LAAL']:.0f} ms" in title
        and f"LAAL_CA {laal.loc['st', 'LAAL_CA']:.0f} ms" in title
    )
    labels = [line.get_label() for line in figure.axes[1].get_lines()]
    assert labels == [
        "delay (source read)",
        "elapsed (computation-aware)",
        "ideal writer (LAAL's d*)",
        "end of source",
    ]
    assert [t.get_text() for t in figure.axes[1].get_yticklabels()] == ["x", "y", "z"]
    assert figure.axes[1].get_lines()[0].get_xdata().tolist() == [400.0, 700.0, 1200.0]


def test_an_empty_panel_says_no_data_and_why():
    """A tiny run's curves were four blank panels that passed for a plot: each now says why."""
    runs = pd.DataFrame({"label": ["wait-k", "wait-k"], "segment_ms": [320, 320], "stream": ["st", "st"],
                         "BLEU": [0.0, 0.0], "LAAL": [float("nan")] * 2, "LAAL_CA": [float("nan")] * 2})  # fmt: skip
    figure = plot_latency_quality(runs, quality="BLEU", latency_axes=["LAAL"])
    assert [[t.get_text() for t in axis.texts] for axis in figure.axes] == [
        ["no data: none of the 2 runs wrote any output\n(no LAAL to plot)"],
        ["no data: none of the 2 runs wrote any output\n(no LAAL_CA to plot)"],
    ]
    nothing = plot_latency_quality(
        pd.DataFrame(), quality="BLEU", latency_axes=["LAAL"], computation_aware=False
    )
    assert [t.get_text() for t in nothing.axes[0].texts] == ["no data: no finished run"]
    drawn = plot_latency_quality(runs.assign(LAAL=[100.0, 200.0]), quality="BLEU", latency_axes=["LAAL"],
                                 computation_aware=False)  # fmt: skip
    assert len(drawn.axes[0].texts) == 0
