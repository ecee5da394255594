"""simul's OmniSTEval scores equal the installed omnisteval 0.1.10's (IWSLT 2026's scorer).

Generated corpora, written as SimulEval logs, are scored by simul (``simul.eval.omnisteval_scoring``)
and by omnisteval's own loaders and ``evaluate_instances``: short form (one output per segment,
with words past the segment's end, outputs that start after it, empty outputs, with and without
``elapsed``) and long form (one output per talk, cut by SoftSegmenter: words written before their
segment and after the talk's end).  Every value within 1e-9 (relative).
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

omnisteval = pytest.importorskip("omnisteval")
from omnisteval.alignment import Word, align_sequences, process_alignment  # noqa: E402
from omnisteval.io import load_resegmentation_inputs, load_shortform_instances  # noqa: E402
from omnisteval.resegment import resegment  # noqa: E402
from omnisteval.scoring import evaluate_instances  # noqa: E402
from omnisteval.tokenization import tokenize_words  # noqa: E402

from simul.eval.log_io import read_instances_log  # noqa: E402
from simul.eval.omnisteval import yaal  # noqa: E402
from simul.eval.omnisteval_scoring import score_omnisteval, score_omnisteval_long  # noqa: E402
from simul.eval.soft_segmenter import assign_segments  # noqa: E402
from simul.eval.talk_references import read_talk_references  # noqa: E402

_VOCABULARY = "the a cat sat on mat . , dog Haus über ( ) ! x y zz Cat The fine der Mann".split()

# omnisteval's keys -> simul's columns (long form: "long_" / "Long")
_SHORT = {"bleu": "BLEU", "chrf": "chrF", "yaal": "YAAL", "al": "AL", "laal": "LAAL", "ap": "AP",
          "dal": "DAL", "ca_yaal": "YAAL_CA", "ca_al": "AL_CA", "ca_laal": "LAAL_CA", "ca_ap": "AP_CA",
          "ca_dal": "DAL_CA", "swf": "SWF", "efsw": "EFSW", "dsptv": "DSPTV", "degenerate_policy": "degenerate"}  # fmt: skip
_LONG = {"bleu": "BLEU", "chrf": "chrF", **{
    f"{ca}long_{m}": f"Long{m.upper() if m != 'laal' else 'LAAL'}{'_CA' if ca else ''}"
    for ca in ("", "ca_") for m in ("yaal", "al", "laal", "ap", "dal")}}  # fmt: skip


def _words(rng: random.Random, count: int) -> list[str]:
    return [rng.choice(_VOCABULARY) for _ in range(count)]


def _times(
    rng: random.Random, count: int, start: float, end: float
) -> tuple[list[float], list[float]]:
    delays = sorted(rng.uniform(start, end) for _ in range(count))
    elapsed, compute = [], 0.0
    for delay in delays:
        compute += rng.expovariate(1 / 50)
        elapsed.append(delay + compute)
    return delays, elapsed


def _short_log(path: Path, rng: random.Random, with_elapsed: bool) -> None:
    lines = []
    for index in range(rng.randint(1, 25)):
        source_ms = rng.uniform(500, 8000)
        count = rng.choice([0, 1, 2, rng.randint(1, 15)])
        late = rng.random() < 0.15  # the output starts after the segment's end
        delays, elapsed = _times(rng, count, source_ms if late else 0.0, source_ms * 1.3)
        if count and rng.random() < 0.5:
            delays[-1] = max(delays[-1], source_ms)  # the last word at the end, as SimulEval writes
        line = {"index": index, "prediction": " ".join(_words(rng, count)), "delays": delays,
                "prediction_length": count, "reference": " ".join(_words(rng, rng.randint(1, 12))) + rng.choice(["", " "]),
                "source": [f"seg{index}.wav", "samplerate: 16000 Hz"], "source_length": source_ms}  # fmt: skip
        if with_elapsed:
            line["elapsed"] = [max(e, d) for e, d in zip(elapsed, delays, strict=True)]
        lines.append(json.dumps(line))
    path.write_text("".join(line + "\n" for line in lines))
    (path.parent / "config.yaml").write_text("source_type: speech\ntarget_type: text\n")


def _assert_equal(ours: dict, theirs: dict, names: dict[str, str]) -> None:
    compared = 0
    for key, column in names.items():
        if key not in theirs:
            assert column not in ours or math.isnan(ours[column]), f"{column} only in simul"
            continue
        expected, value = theirs[key], ours[column]
        if math.isnan(expected):
            assert math.isnan(value), f"{column}: {value} != NaN"
        else:
            assert value == pytest.approx(expected, rel=1e-9, abs=1e-9), (
                f"{column}: {value} != {expected}"
            )
        compared += 1
    assert compared >= 7


@pytest.mark.parametrize("seed", range(12))
def test_short_form_equals_omnisteval(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    log = tmp_path / "instances.log"
    _short_log(log, rng, with_elapsed=seed % 3 != 0)
    theirs, _, _ = evaluate_instances(
        load_shortform_instances(str(log), None, "delays", "elapsed"), is_longform=False
    )
    ours = score_omnisteval(read_instances_log(log)).corpus.loc["main"].to_dict()
    _assert_equal(ours, theirs, _SHORT)


def _long_inputs(tmp_path: Path, rng: random.Random) -> tuple[Path, Path, Path]:
    segments, references, lines = [], [], []
    for talk in range(rng.randint(1, 3)):
        offset = rng.uniform(0, 2)
        talk_words, talk_delays, talk_elapsed = [], [], []
        for _ in range(rng.randint(1, 5)):
            duration = rng.uniform(0.5, 6)
            segments.append({"duration": round(duration, 3), "offset": round(offset, 3), "speaker_id": "s",
                             "wav": f"talk{talk}.wav"})  # fmt: skip
            reference = _words(rng, rng.randint(0, 10))
            references.append(" ".join(reference))
            # the output: the reference with changes, written around the segment's time
            output = [w if rng.random() < 0.7 else rng.choice(_VOCABULARY) for w in reference]
            output += _words(rng, rng.randint(0, 2))
            start, end = 1000 * offset, 1000 * (offset + duration)
            delays, elapsed = _times(rng, len(output), start - 300, end + 1500)
            talk_words += output
            talk_delays += delays
            talk_elapsed += elapsed
            offset += duration + rng.uniform(0, 1)
        order = sorted(range(len(talk_delays)), key=talk_delays.__getitem__)
        delays = [talk_delays[k] for k in order]
        elapsed = sorted(talk_elapsed)
        lines.append(json.dumps({"index": talk, "prediction": " ".join(talk_words), "delays": sorted(delays),
                                 "elapsed": [max(e, d) for e, d in zip(elapsed, delays, strict=True)],
                                 "prediction_length": len(talk_words), "reference": "",
                                 "source": [f"talk{talk}.wav"], "source_length": 1000 * (offset + 5)}))  # fmt: skip
    yaml_path, ref_path, log = (
        tmp_path / "segments.yaml",
        tmp_path / "ref.de",
        tmp_path / "instances.log",
    )
    yaml_path.write_text("".join(
        f"- {{duration: {s['duration']}, offset: {s['offset']}, speaker_id: s, wav: {s['wav']}}}\n" for s in segments
    ))  # fmt: skip
    ref_path.write_text("".join(reference + "\n" for reference in references))
    log.write_text("".join(line + "\n" for line in lines))
    (tmp_path / "config.yaml").write_text("source_type: speech\ntarget_type: text\n")
    return yaml_path, ref_path, log


@pytest.mark.parametrize("seed", range(6))
def test_long_form_equals_omnisteval(tmp_path: Path, seed: int) -> None:
    rng = random.Random(100 + seed)
    yaml_path, ref_path, log = _long_inputs(tmp_path, rng)
    ref_words, hyp_words, segmentation, ref_sentences = load_resegmentation_inputs(
        str(yaml_path), None, str(ref_path), str(log)
    )
    if any(not talk for talk in ref_words):
        pytest.skip("omnisteval cannot align a talk without reference words")
    instances, _ = resegment(ref_words, hyp_words, segmentation, ref_sentences, lang=None)
    theirs, _, _ = evaluate_instances(instances, is_longform=True)
    references = read_talk_references(yaml_path, {"main": ref_path})
    result = score_omnisteval_long(read_instances_log(log), references)
    _assert_equal(result.scores.corpus.loc["main"].to_dict(), theirs, _LONG)
    predictions = [segment.streams["main"].prediction for segment in result.segments]
    assert predictions == [instance.prediction for instance in instances]


def test_soft_segmenter_assigns_words_as_omnisteval() -> None:
    """The alignment and its gap rule, on many small random talks (lookahead runs included)."""
    rng = random.Random(7)
    compared = 0
    for _ in range(300):
        reference, segments = [], []
        for segment in range(rng.randint(1, 4)):
            words = _words(rng, rng.randint(0, 6))
            reference += [w.lower() for w in words]
            segments += [segment] * len(words)
        output = _words(rng, rng.randint(0, 12))
        if not reference:
            continue
        ref_words = tokenize_words(
            [[Word(w, seq_id=s) for w, s in zip(reference, segments, strict=True)]], None
        )[0]
        hyp_words = tokenize_words(
            [[Word(w, emission_cu=float(k)) for k, w in enumerate(output)]], None
        )[0]
        expected: list[int | None] = [None] * len(output)
        for word in process_alignment(*align_sequences(ref_words, hyp_words, False), False):
            expected[int(word.emission_cu)] = word.seq_id
        assert assign_segments(reference, segments, output) == expected
        compared += 1
    assert compared > 200


def test_yaal_stops_before_the_first_word_at_the_source_end() -> None:
    """YAAL leaves out words written once the segment has ended; LongYAAL keeps them until the recording ends."""
    delays = [100.0, 500.0, 1000.0, 1400.0]
    gamma = 4 / 1000
    assert yaal(delays, 1000.0, 3) == pytest.approx((100 + 500 - 1 / gamma) / 2)
    assert math.isnan(yaal([1000.0], 1000.0, 1))
    long = yaal(delays, 1000.0, 3, long_form=True, recording_end_ms=1200.0)
    assert long == pytest.approx((100 + 500 - 1 / gamma + 1000 - 2 / gamma) / 3)


def test_shipped_simuleval_run_equals_omnisteval() -> None:
    """The real SimulEval 1.1.4 run in data/examples (with elapsed), through `simul score --scorer omnisteval`'s function."""
    log = Path(__file__).parent.parent / "data" / "examples" / "simuleval_speech" / "instances.log"
    theirs, _, _ = evaluate_instances(
        load_shortform_instances(str(log), None, "delays", "elapsed"), is_longform=False
    )
    ours = score_omnisteval(read_instances_log(log)).corpus.loc["main"].to_dict()
    _assert_equal(ours, theirs, _SHORT)
    assert ours["YAAL"] == pytest.approx(302.5529, abs=1e-4)  # what `omnisteval shortform` prints


def test_cli_scores_long_form_and_refuses_simuleval_only_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from simul.cli.main import main

    yaml_path, ref_path, log = _long_inputs(tmp_path, random.Random(3))
    out = tmp_path / "out"
    argv = [
        "score",
        str(log),
        "--scorer",
        "omnisteval",
        "--segments-yaml",
        str(yaml_path),
        "--references",
        str(ref_path),
    ]
    assert main([*argv, "--output", str(out)]) == 0
    assert "LongYAAL" in capsys.readouterr().out
    assert (out / "scores.tsv").is_file() and (out / "resegmented" / "instances.log").is_file()
    assert main([*argv, "--latency-metrics", "AL"]) == 2
    assert "--latency-metrics does not apply to --scorer omnisteval" in capsys.readouterr().err


def _simulstream_log(tmp_path: Path, rng: random.Random, yaml_path: Path) -> Path:
    """A simulstream metrics log for the talks of ``yaml_path``, with retracted tokens."""
    import yaml

    talks: dict[str, float] = {}
    for segment in yaml.safe_load(yaml_path.read_text()):
        talks[segment["wav"]] = max(
            talks.get(segment["wav"], 0.0), segment["offset"] + segment["duration"]
        )
    lines = []
    for number, (wav, end_s) in enumerate(talks.items()):
        lines.append({"id": number, "metadata": {"wav_name": f"/data/{wav}"}})
        processed, tokens = 0.0, []
        while processed < end_s + 1:
            processed += rng.choice([0.32, 0.64, 1.0])
            deleted = (
                tokens[-rng.randint(1, min(3, len(tokens))) :]
                if tokens and rng.random() < 0.25
                else []
            )
            if deleted:
                tokens = tokens[: -len(deleted)]
            generated = _words(rng, rng.randint(0, 3))
            tokens += generated
            lines.append({"id": number, "total_audio_processed": processed, "computation_time": rng.uniform(0, 0.2),
                          "generated_tokens": generated, "deleted_tokens": deleted})  # fmt: skip
    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return log


@pytest.mark.parametrize("seed", range(6))
def test_simulstream_log_reads_and_scores_as_simulstream_and_omnisteval(
    tmp_path: Path, seed: int
) -> None:
    readers = pytest.importorskip("simulstream.metrics.readers")
    from types import SimpleNamespace

    from simul.eval.simulstream_log import read_simulstream_log

    rng = random.Random(200 + seed)
    yaml_path, ref_path, _ = _long_inputs(tmp_path, rng)
    log = _simulstream_log(tmp_path, rng, yaml_path)
    expected = readers.LogReader(
        SimpleNamespace(detokenizer_type="simuleval", latency_unit="word"), str(log)
    )
    talks = read_simulstream_log(log)
    for talk, output in zip(talks, expected.final_outputs_and_latencies().values(), strict=True):
        stream = talk.streams["main"]
        assert stream.prediction == output.final_text
        assert stream.delays == tuple(d * 1000 for d in output.ideal_delays)
        assert stream.elapsed == tuple(d * 1000 for d in output.computational_aware_delays)
    config = tmp_path / "eval.yaml"
    config.write_text("detokenizer_type: simuleval\nlatency_unit: word\n")
    ref_words, hyp_words, segmentation, ref_sentences = load_resegmentation_inputs(
        str(yaml_path),
        None,
        str(ref_path),
        str(log),
        hypothesis_format="simulstream",
        simulstream_config_file=str(config),
    )
    if any(not talk for talk in ref_words):
        pytest.skip("omnisteval cannot align a talk without reference words")
    instances, _ = resegment(ref_words, hyp_words, segmentation, ref_sentences, lang=None)
    theirs, _, _ = evaluate_instances(instances, is_longform=True)
    result = score_omnisteval_long(talks, read_talk_references(yaml_path, {"main": ref_path}))
    _assert_equal(result.scores.corpus.loc["main"].to_dict(), theirs, _LONG)


def test_cli_scores_a_simulstream_log_long_form(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from simul.cli.main import main

    rng = random.Random(5)
    yaml_path, ref_path, _ = _long_inputs(tmp_path, rng)
    log = _simulstream_log(tmp_path, rng, yaml_path)
    argv = ["score", str(log), "--log-format", "simulstream", "--scorer", "omnisteval",
            "--segments-yaml", str(yaml_path), "--references", str(ref_path), "--output", str(tmp_path / "out")]  # fmt: skip
    assert main(argv) == 0
    assert "LongYAAL" in capsys.readouterr().out
