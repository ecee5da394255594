"""Regenerate the SimulEval example runs in this folder, with the real ``simuleval`` 1.1.4 CLI.

    bash .ci/venv python data/examples/make_simuleval_examples.py [--speech-segments 5]

What it does, in a temporary directory:

1. builds the test split of the built-in tiny corpus (``simul data synth --size tiny --splits
   test --langs de``) and takes its first segments;
2. cuts each segment out of its talk into a wav of its own (SimulEval reads one wav per source
   line) and writes the source list, the German references and the English text;
3. writes the plan of ``gloss_agent.py``: each German word with the English word it glosses,
   in English order (a monotone word-for-word gloss, from the gold alignments), due when that
   English word has ended (gold word times) or, for text input, has been read;
4. runs ``simuleval`` speech-to-text (``--source-segment-size 320``, ``--output``) and
   text-to-text with that agent, and copies ``instances.log``, ``config.yaml`` and SimulEval's
   ``scores.tsv`` here (``simuleval_speech/``, ``simuleval_text/``);
5. rescores the speech run with ``simuleval --score-only --computation-aware`` and keeps what
   it prints (``simuleval_speech/score_only_computation_aware.txt``; pandas' display width is
   widened so that the table prints on one line), which shows SimulEval issue 44.

The wavs are not kept (the logs name them by relative path).  ``elapsed`` is wall-clock time, so
a rerun gives other computation-aware numbers; everything else is reproduced exactly.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import soundfile

from simul.cli.main import main as simul_main
from simul.data.features.audio import read_segment
from simul.data.instance import Instance, samples_to_ms
from simul.data.readers import read_mustc

HERE = Path(__file__).resolve().parent
LATENCY_METRICS = ["LAAL", "AL", "AP", "DAL", "ATD", "StartOffset", "EndOffset", "RTF", "NumChunks"]
SEGMENT_MS = 320
_WIDE_SIMULEVAL = (
    "import pandas; pandas.set_option('display.width', 100000); "
    "pandas.set_option('display.max_columns', None); "
    "from simuleval.cli import main; main()"
)


def gloss_plan(instance: Instance, lang: str) -> list[tuple[int, str]]:
    """The monotone gloss: ``(source word index, target word)`` in the order it is written.

    Each target word is anchored at the first source word aligned to it (an unaligned word at
    its predecessor's anchor, the first one at source word 0); words are written in anchor
    order, ties in target order.
    """
    target = instance.target_texts[lang].split()
    sources_of: list[list[int]] = [[] for _ in target]
    for source_index, target_index in (instance.alignments or {}).get(lang, ()):
        sources_of[target_index].append(source_index)
    anchors, previous = [], 0
    for sources in sources_of:
        previous = min(sources) if sources else previous
        anchors.append(previous)
    order = sorted(range(len(target)), key=lambda t: (anchors[t], t))
    return [(anchors[t], target[t]) for t in order]


def _simuleval(arguments: list[str], cwd: Path, *, wide: bool = False) -> str:
    command = [sys.executable, "-c", _WIDE_SIMULEVAL] if wide else [sys.executable, "-m", "simuleval.cli"]
    result = subprocess.run(
        [*command, *arguments], cwd=cwd, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"simuleval {' '.join(arguments)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def _keep(run_dir: Path, destination: Path, names: tuple[str, ...]) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(run_dir / name, destination / name)


def make(work: Path, out: Path, speech_segments: int, text_segments: int) -> None:
    """Run everything in ``work`` and keep the files in ``out/simuleval_speech`` and ``out/simuleval_text``."""
    corpus = work / "corpus"
    simul_main(["data", "synth", str(corpus), "--size", "tiny", "--splits", "test", "--langs", "de",
                "--no-progress"])  # fmt: skip
    instances = read_mustc(corpus, "test", "en", ["de"])
    speech, text = instances[:speech_segments], instances[:text_segments]

    (work / "wav").mkdir()
    sources, speech_plan = [], []
    for instance in speech:
        waveform, rate = read_segment(
            instance.audio_path, instance.offset_samples, instance.num_samples
        )
        relative = f"wav/{instance.id}.wav"
        soundfile.write(work / relative, waveform, rate, subtype="PCM_16")
        sources.append(relative)
        words = instance.source_words or ()
        speech_plan.append(
            [
                [samples_to_ms(words[anchor].end_sample, instance.sample_rate), word]
                for anchor, word in gloss_plan(instance, "de")
            ]
        )
    text_plan = [[[anchor + 1, word] for anchor, word in gloss_plan(i, "de")] for i in text]
    (work / "source.txt").write_text("".join(s + "\n" for s in sources))
    (work / "speech.de").write_text("".join(i.target_texts["de"] + "\n" for i in speech))
    (work / "text.en").write_text("".join(i.source_text + "\n" for i in text))
    (work / "text.de").write_text("".join(i.target_texts["de"] + "\n" for i in text))
    (work / "speech_plan.json").write_text(json.dumps(speech_plan))
    (work / "text_plan.json").write_text(json.dumps(text_plan))
    shutil.copyfile(HERE / "gloss_agent.py", work / "gloss_agent.py")

    metrics = ["--quality-metrics", "BLEU", "--latency-metrics", *LATENCY_METRICS]
    _simuleval(
        ["--agent", "gloss_agent.py", "--agent-class", "agents.GlossSpeechAgent",
         "--plan", "speech_plan.json", "--source", "source.txt", "--target", "speech.de",
         "--source-type", "speech", "--target-type", "text",
         "--source-segment-size", str(SEGMENT_MS), "--output", "speech", *metrics],
        work,
    )  # fmt: skip
    _keep(work / "speech", out / "simuleval_speech", ("instances.log", "config.yaml", "scores.tsv"))
    printed = _simuleval(
        ["--score-only", "--output", "speech", "--computation-aware", *metrics], work, wide=True
    )
    (out / "simuleval_speech" / "score_only_computation_aware.txt").write_text(printed)

    _simuleval(
        ["--agent", "gloss_agent.py", "--agent-class", "agents.GlossTextAgent",
         "--plan", "text_plan.json", "--source", "text.en", "--target", "text.de",
         "--source-type", "text", "--target-type", "text", "--output", "text", *metrics],
        work,
    )  # fmt: skip
    _keep(work / "text", out / "simuleval_text", ("instances.log", "config.yaml", "scores.tsv"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--speech-segments", type=int, default=5, help="speech instances (default: 5)")
    parser.add_argument("--text-segments", type=int, default=10, help="text instances (default: 10)")
    parser.add_argument("--work", type=Path, default=None, help="keep the work files here")
    parser.add_argument("--out", type=Path, default=HERE, help="where the examples go (default: here)")
    args = parser.parse_args()
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=False)
        make(args.work, args.out, args.speech_segments, args.text_segments)
    else:
        with tempfile.TemporaryDirectory() as work:
            make(Path(work), args.out, args.speech_segments, args.text_segments)
    for name in ("simuleval_speech", "simuleval_text"):
        print(f"{args.out / name}:")
        print((args.out / name / "scores.tsv").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
