"""instances.log reading and writing: SimulEval's format, simul's streams, and clear errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simul.eval.log_io import read_instances_log, write_instances_log
from simul.eval.records import DEFAULT_STREAM, InstanceOutput, StreamOutput

SPEECH_LINE = {
    "index": 0,
    "prediction": "Hallo Welt .",
    "delays": [640.0, 960.0, 1500.0],
    "elapsed": [700.5, 1001.0, 1600.25],
    "prediction_length": 3,
    "reference": "Hallo Welt .",
    "source": ["a.wav", "samplerate: 16000 Hz", "channels: 1"],
    "source_length": 1500.0,
}


def _write(path: Path, lines: list) -> Path:
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    )
    return path


def test_reads_a_simuleval_speech_line(tmp_path: Path) -> None:
    log = _write(tmp_path / "instances.log", [SPEECH_LINE])
    (instance,) = read_instances_log(tmp_path)
    assert instance.source_type == "speech"
    assert instance.source_length == 1500.0
    stream = instance.streams[DEFAULT_STREAM]
    assert stream.delays == (640.0, 960.0, 1500.0)
    assert stream.elapsed == (700.5, 1001.0, 1600.25)
    assert stream.reference == "Hallo Welt ."
    assert instance.origin == f"{log}:1"


def test_source_type_comes_from_config_yaml(tmp_path: Path) -> None:
    text_line = {
        **SPEECH_LINE,
        "source": "a b c",
        "source_length": 3,
        "delays": [1, 2, 3],
        "elapsed": [0, 0, 0],
    }
    _write(tmp_path / "instances.log", [text_line])
    assert read_instances_log(tmp_path)[0].source_type == "text"  # inferred: 3 tokens, length 3
    (tmp_path / "config.yaml").write_text("source_type: speech\ntarget_type: speech\n")
    assert read_instances_log(tmp_path)[0].source_type == "speech"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"delays": [640.0, 500.0, 1500.0]}, "`delays` must be non-decreasing"),
        ({"delays": [640.0, "x", 1500.0]}, "`delays[1]` must be a finite number"),
        ({"elapsed": [1.0]}, "`elapsed` must be empty or as long as `delays`"),
        ({"delays": -1}, "`delays` must be a list"),
        ({"source_length": 0}, "`source_length` of instance 1 must be a finite number > 0"),
        ({"reference": 3}, "`reference` must be a string"),
        ({"index": "zero"}, "`index` must be an integer"),
    ],
)
def test_bad_fields_name_file_line_and_field(tmp_path: Path, change: dict, message: str) -> None:
    log = _write(tmp_path / "instances.log", [SPEECH_LINE, {**SPEECH_LINE, "index": 1, **change}])
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        read_instances_log(log)
    assert f"{log}:2" in str(error.value)


def test_nan_missing_field_malformed_json_and_empty_log(tmp_path: Path) -> None:
    log = tmp_path / "instances.log"
    log.write_text(json.dumps(SPEECH_LINE).replace("640.0", "NaN") + "\n")
    with pytest.raises(ValueError, match=r"instances.log:1: `delays\[0\]` must be a finite number"):
        read_instances_log(log)
    _write(log, [{k: v for k, v in SPEECH_LINE.items() if k != "delays"}])
    with pytest.raises(ValueError, match="instances.log:1: missing field `delays`"):
        read_instances_log(log)
    _write(log, [SPEECH_LINE, "{not json"])
    with pytest.raises(ValueError, match="instances.log:2: not a JSON object"):
        read_instances_log(log)
    log.write_text("\n")
    with pytest.raises(ValueError, match="holds no instances"):
        read_instances_log(log)
    with pytest.raises(FileNotFoundError, match="no instances.log"):
        read_instances_log(tmp_path / "missing")


def test_repeated_index_is_refused(tmp_path: Path) -> None:
    log = _write(tmp_path / "instances.log", [SPEECH_LINE, SPEECH_LINE])
    with pytest.raises(ValueError, match="`index` 0 repeats line 1"):
        read_instances_log(log)


_delays = st.lists(st.floats(0, 1e5, allow_nan=False), max_size=8).map(sorted)


@st.composite
def _instances(draw: st.DrawFn) -> list[InstanceOutput]:
    names = draw(
        st.lists(st.sampled_from(["asr", "st", "de", "es"]), min_size=1, max_size=3, unique=True)
    )
    result = []
    for index in range(draw(st.integers(1, 4))):
        streams = {}
        for name in names:
            delays = draw(_delays)
            words = draw(
                st.lists(
                    st.text("abcäöü", min_size=1, max_size=5),
                    min_size=len(delays),
                    max_size=len(delays),
                )
            )
            streams[name] = StreamOutput(
                prediction=" ".join(words),
                delays=tuple(delays),
                elapsed=tuple(d + 1.5 for d in delays) if draw(st.booleans()) else (),
                reference=draw(st.one_of(st.none(), st.text("xyz ", max_size=10))),
            )
        result.append(
            InstanceOutput(
                index=index,
                source_type="speech",
                source_length=draw(st.floats(1, 1e5)),
                streams=streams,
                source=f"{index}.wav",
            )
        )
    return result


@settings(max_examples=40, deadline=None)
@given(instances=_instances())
def test_write_then_read_round_trips_every_stream(
    tmp_path_factory: pytest.TempPathFactory, instances: list
) -> None:
    directory = tmp_path_factory.mktemp("log")
    write_instances_log(directory, instances)
    back = read_instances_log(directory)
    assert [(i.index, i.source_length, i.source, dict(i.streams)) for i in back] == [
        (i.index, i.source_length, i.source, dict(i.streams)) for i in instances
    ]


def test_written_log_is_simuleval_compatible(tmp_path: Path) -> None:
    """SimulEval's LogInstance reads our primary stream; config.yaml names the right types."""
    from simuleval.evaluator.instance import LogInstance

    st_stream = StreamOutput(prediction="ein Hund", delays=(320.0, 640.0), reference="ein Hund")
    asr_stream = StreamOutput(prediction="a dog", delays=(300.0, 600.0), reference="a dog")
    instance = InstanceOutput(
        index=0,
        source_type="speech",
        source_length=900.0,
        streams={"st": st_stream, "asr": asr_stream},
    )
    log = write_instances_log(tmp_path, [instance], primary_stream="st")
    simuleval_view = LogInstance(log.read_text().splitlines()[0])
    assert simuleval_view.prediction == "ein Hund"
    assert simuleval_view.delays == [320.0, 640.0]
    assert (tmp_path / "config.yaml").read_text() == "source_type: speech\ntarget_type: text\n"
    assert set(read_instances_log(tmp_path)[0].streams) == {"st", "asr"}


def test_non_utf8_bytes_name_file_line_and_column(tmp_path: Path) -> None:
    """A stray 0xff used to fail the whole file with "'utf-8' codec can't decode", no place."""
    log = tmp_path / "instances.log"
    bad = json.dumps({**SPEECH_LINE, "index": 1}).encode().replace(b"Hallo", b"Hall\xff", 1)
    log.write_bytes(json.dumps(SPEECH_LINE).encode() + b"\n" + bad + b"\n")
    column = bad.index(b"\xff") + 1
    with pytest.raises(
        ValueError, match=re.escape(f"{log}:2: not valid UTF-8 (byte 0xff at column {column}).")
    ):
        read_instances_log(log)


def test_utf8_bom_is_reported_as_such(tmp_path: Path) -> None:
    """A BOM used to read as "not a JSON object (Expecting value)"."""
    log = tmp_path / "instances.log"
    log.write_bytes(b"\xef\xbb\xbf" + json.dumps(SPEECH_LINE).encode() + b"\n")
    with pytest.raises(
        ValueError, match=re.escape(f"{log}:1: the log starts with a UTF-8 byte order mark (BOM)")
    ):
        read_instances_log(log)


def test_lines_the_fast_parser_refuses_read_as_the_standard_library_reads_them(
    tmp_path: Path,
) -> None:
    """orjson refuses NaN, 65-bit integers and non-ASCII blanks; the standard library's reading holds."""
    log = tmp_path / "instances.log"
    line = json.dumps({**SPEECH_LINE, "extra_big": 2**70})
    log.write_bytes(
        ("\u00a0" + line + "\r\n\r\n" + json.dumps({**SPEECH_LINE, "index": 1}) + "\r\n").encode()
    )
    first, second = read_instances_log(log)
    assert first.extra["extra_big"] == 2**70 and second.origin == f"{log}:3"
    log.write_text(json.dumps(SPEECH_LINE) + "\n" + json.dumps(SPEECH_LINE)[:-1] + "}}\n")
    with pytest.raises(ValueError, match=re.escape(f"{log}:2: not a JSON object (Extra data).")):
        read_instances_log(log)
