"""Scoring a corpus: every metric per stream, clear errors, provenance, and ``simul score``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simul
from simul.cli.main import build_parser, main
from simul.eval.latency import LatencyInputs, compute_latency, corpus_mean, reference_length
from simul.eval.log_io import read_instances_log, write_instances_log
from simul.eval.quality import corpus_quality
from simul.eval.records import InstanceOutput, StreamOutput
from simul.eval.report import format_scores, write_scores
from simul.eval.scoring import ScoringConfig, score


def _joint(index: int, words: int) -> InstanceOutput:
    """A joint ASR/ST output: the transcript comes earlier than the translation."""
    asr = " ".join(f"w{i}" for i in range(words))
    st = " ".join(f"t{i}" for i in range(words + 1))
    return InstanceOutput(
        index=index,
        source_type="speech",
        source_length=320.0 * (words + 1),
        streams={
            "asr": StreamOutput(
                prediction=asr,
                delays=tuple(320.0 * (i + 1) for i in range(words)),
                elapsed=tuple(320.0 * (i + 1) + 15.0 * (i + 1) for i in range(words)),
                reference=asr if index % 2 else f"{asr} extra",
            ),
            "st": StreamOutput(
                prediction=st,
                delays=tuple(min(320.0 * (i + 2), 320.0 * (words + 1)) for i in range(words + 1)),
                elapsed=tuple(320.0 * (i + 2) + 30.0 for i in range(words + 1)),
                reference=" ".join(f"t{i}" for i in range(words)),
            ),
        },
    )


CORPUS = [_joint(index, words) for index, words in enumerate([3, 5, 8, 2])]


def _alone(stream: str, computation_aware: bool = False) -> dict[str, float]:
    """Latency of one stream scored on its own, straight from the batch API."""
    outputs = [instance.streams[stream] for instance in CORPUS]
    inputs = LatencyInputs(
        delays=[o.delays for o in outputs],
        elapsed=[o.elapsed for o in outputs],
        source_lengths=[i.source_length for i in CORPUS],
        reference_lengths=[reference_length(o.reference or "", "word") for o in outputs],
        source_type="speech",
    )
    values = compute_latency(inputs, computation_aware=computation_aware)
    return {name: corpus_mean(value) for name, value in values.items()}


def test_every_metric_is_computed_per_stream() -> None:
    scores = score(CORPUS, ScoringConfig(computation_aware=True))
    assert list(scores.corpus.index) == ["asr", "st"]
    for stream in ("asr", "st"):
        plain, aware = _alone(stream), _alone(stream, computation_aware=True)
        for metric in ("LAAL", "AL", "AP", "DAL", "ATD"):
            assert scores.corpus.loc[stream, metric] == plain[metric], (stream, metric)
            assert scores.corpus.loc[stream, f"{metric}_CA"] == aware[metric], (stream, metric)
    # Quality defaults: WER/CER on the transcript, BLEU/chrF on the translation.
    assert math.isnan(scores.corpus.loc["asr", "BLEU"]) and math.isnan(
        scores.corpus.loc["st", "WER"]
    )
    hypotheses = [i.streams["asr"].prediction for i in CORPUS]
    references = [i.streams["asr"].reference for i in CORPUS]
    expected_wer = corpus_quality("WER", hypotheses, references).score
    assert scores.corpus.loc["asr", "WER"] == expected_wer
    assert set(scores.signatures) == {"asr/WER", "asr/CER", "st/BLEU", "st/chrF"}
    assert scores.signatures["st/BLEU"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    per_instance = scores.instances.set_index(["index", "stream"])
    assert per_instance.shape[0] == 2 * len(CORPUS)
    assert per_instance.loc[(0, "st"), "AL"] == pytest.approx(
        corpus_mean(np.array([per_instance.loc[(0, "st"), "AL"]]))
    )


def test_computation_aware_columns_leave_the_plain_ones_alone() -> None:
    """SimulEval 1.1.4 issue 44: with --computation-aware its plain columns turn aware too."""
    plain = score(CORPUS).corpus
    both = score(CORPUS, ScoringConfig(computation_aware=True)).corpus
    for metric in ("LAAL", "AL", "AP", "DAL", "ATD"):
        assert list(both[metric]) == list(plain[metric])
        assert (both[f"{metric}_CA"] > both[metric]).all()


def _log(tmp_path: Path, instances: list[InstanceOutput] = CORPUS) -> Path:
    return write_instances_log(tmp_path / "run", instances, primary_stream="st")


def test_errors_name_the_file_line_and_stream(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = log.read_text().splitlines()
    record = json.loads(lines[2])
    record["streams"]["asr"]["reference"] = None
    lines[2] = json.dumps(record)
    log.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        ValueError, match=rf"{log}:3: stream `asr` has no reference, which WER, CER"
    ):
        score(read_instances_log(log))
    assert not math.isnan(
        score(read_instances_log(log), ScoringConfig(quality_metrics=())).corpus.loc["asr", "AL"]
    )

    record["streams"]["asr"]["reference"] = "w0"
    record["delays"] = record["delays"][:-1]
    record["elapsed"] = record["elapsed"][:-1]
    lines[2] = json.dumps(record)
    log.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        ValueError, match=rf"{log}:3: stream `st` has 8 delays but its prediction has 9"
    ):
        score(read_instances_log(log))


def test_computation_aware_text_is_refused() -> None:
    text = InstanceOutput(
        index=0, source_type="text", source_length=3,
        streams={"main": StreamOutput(prediction="a b", delays=(1, 3), reference="a b")},
    )  # fmt: skip
    with pytest.raises(ValueError, match="computation-aware latency is defined for speech input"):
        score([text], ScoringConfig(computation_aware=True))
    with pytest.raises(ValueError, match="`latency_metrics` must be among"):
        ScoringConfig(latency_metrics=("AL", "BLEU"))


def test_results_files_record_provenance(tmp_path: Path) -> None:
    scores = score(CORPUS, ScoringConfig(computation_aware=True))
    written = write_scores(tmp_path, scores, log="run/instances.log", log_sha256="abc")
    assert sorted(p.name for p in written) == [
        "corpus_scores.tsv", "instance_scores.tsv", "scores.json", "scores.tsv",
    ]  # fmt: skip
    document = json.loads((tmp_path / "scores.json").read_text())
    provenance = document["provenance"]
    assert provenance["simul_version"] == simul.__version__
    assert "git_commit" in provenance and provenance["libraries"]["simuleval"] == "1.1.4"
    assert provenance["scoring"]["computation_aware"] is True
    assert provenance["signatures"]["st/BLEU"] == scores.signatures["st/BLEU"]
    assert provenance["inputs"] == {"log": "run/instances.log", "log_sha256": "abc"}
    assert document["corpus"]["st"]["AL"] == scores.corpus.loc["st", "AL"]
    full = pd.read_csv(tmp_path / "corpus_scores.tsv", sep="\t", index_col="stream")
    assert full.loc["st", "AL_CA"] == scores.corpus.loc["st", "AL_CA"]  # full precision
    pd.testing.assert_frame_equal(full, scores.corpus, check_dtype=False, check_names=False)
    instances = pd.read_csv(tmp_path / "instance_scores.tsv", sep="\t")
    assert len(instances) == len(scores.instances)


def test_scores_tsv_reads_as_simulevals_users_read_it(tmp_path: Path) -> None:
    """SimulEval users read scores.tsv with `pd.read_csv(path, sep="\t")`: no comment lines,
    SimulEval's 3 decimals; the provenance is in scores.json, full precision in corpus_scores.tsv."""
    scores = score(CORPUS, ScoringConfig(computation_aware=True))
    write_scores(tmp_path, scores, log="run/instances.log")
    text = (tmp_path / "scores.tsv").read_text()
    assert not any(line.startswith("#") for line in text.splitlines())
    table = pd.read_csv(tmp_path / "scores.tsv", sep="\t")
    assert list(table.columns) == ["stream", *scores.corpus.columns]
    assert table["num_instances"].tolist() == [4, 4]
    for stream, row in scores.corpus.iterrows():
        shown = table.set_index("stream").loc[stream]
        for name, value in row.items():
            assert shown[name] == round(value, 3) or (
                math.isnan(value) and math.isnan(shown[name])
            ), name
    for name in ("corpus_scores.tsv", "instance_scores.tsv"):
        assert not (tmp_path / name).read_text().startswith("#")
    assert format_scores(scores).split()[:3] == ["stream", "num_instances", "WER"]


def test_simul_score_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = _log(tmp_path)
    out = tmp_path / "scores"
    assert main(["score", str(log.parent), "--output", str(out), "--computation-aware"]) == 0
    printed = capsys.readouterr().out
    assert "AL_CA" in printed and "st/BLEU: nrefs:1" in printed
    assert (out / "scores.tsv").is_file()
    # A bad log: one clear line, exit status 2, nothing written.
    log.write_text(log.read_text().replace('"delays": [640.0', '"delays": [NaN', 1))
    bad_out = tmp_path / "bad"
    assert main(["score", str(log), "--output", str(bad_out)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("simul score: error: ") and f"{log}:1: `delays[0]`" in error
    assert not bad_out.exists()


def test_cli_has_a_version_and_explains_each_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--version"])
    assert capsys.readouterr().out.strip() == f"simul {simul.__version__}"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    help_text = capsys.readouterr().out
    assert "score" in help_text and "data" in help_text
    with pytest.raises(SystemExit):
        build_parser().parse_args(["data", "--help"])
    assert "oracle" in capsys.readouterr().out


def test_a_stream_that_wrote_nothing_says_no_output_in_the_printed_table() -> None:
    """A tiny model's run printed WER 100 and blank latency cells that read as "not scored"."""
    silent = [
        InstanceOutput(
            index=index, source_type="speech", source_length=960.0,
            streams={"st": StreamOutput(prediction="", delays=(), elapsed=(), reference="t0 t1")},
        )
        for index in range(2)
    ]  # fmt: skip
    lines = format_scores(score(silent, ScoringConfig(computation_aware=True))).splitlines()
    header, row = lines[0].split(), lines[1].split()
    assert header[:4] == ["stream", "num_instances", "BLEU", "chrF"] and row[:4] == [
        "st",
        "2",
        "0.000",
        "0.000",
    ]
    assert " ".join(row[4:]) == " ".join(["no output"] * (len(header) - 4))
    assert "no output" not in format_scores(score(CORPUS, ScoringConfig()))
