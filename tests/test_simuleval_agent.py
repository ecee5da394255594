"""The real ``simuleval`` 1.1.4 command running simul's agent equals ``simul eval`` on the same input.

On the built-in tiny corpus (built here, MuST-C layout) and a transducer trained here with
``simul train`` for two steps (a bad but deterministic joint ASR/ST model), and on the toy model:
``simul eval --simuleval`` runs a few segments and prints the ``simuleval`` command; the test runs
that command in a subprocess and checks that

- SimulEval's predictions, delays, source lengths and references equal ``simul eval``'s primary
  stream, and simul's multi-stream log beside SimulEval's output equals ``simul eval``'s log in
  every stream;
- SimulEval's scores (``scores.tsv``) equal the harness's scores of SimulEval's own
  ``instances.log`` and of ``simul eval``'s, to SimulEval's 3 decimals (the runs use neither
  ``--computation-aware`` nor text input, the two places where the harness deliberately differs
  from 1.1.4, see ``simul.eval.scoring`` and ``tests/test_examples.py``).

A probe agent shows SimulEval's loop as the agent must treat it: one call after the source ends,
and no reset unless that call writes ``finished=True``.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

import simul.agents
from simul.cli.main import main as simul_main
from simul.eval.log_io import read_instances_log
from simul.eval.scoring import ScoringConfig, score

pytestmark = pytest.mark.slow

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"
AGENT_FILE = Path(simul.agents.__file__).parent / "simuleval_agent.py"
LATENCY = ["LAAL", "AL", "AP", "DAL", "ATD", "StartOffset", "EndOffset", "RTF", "NumChunks"]
JOINT_TOY = [
    "--set", "model.streams=[asr,st]",
    "--set", "model.pieces=[<asr>,▁a,▁b,<st>,▁x,-x,<asr>,▁c,<st>,▁y,▁z]",
    "--set", "model.frames=[0,5,15,16,17,18,30,35,36,37,50]",
]  # fmt: skip


@dataclass(frozen=True)
class Built:
    corpus: Path
    checkpoint: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The tiny corpus (train and test splits) and a joint transducer trained on it for 2 steps."""
    root = tmp_path_factory.mktemp("simuleval_agent")
    corpus = root / "corpus"
    assert simul_main(["data", "synth", str(corpus), "--size", "tiny", "--langs", "de",
                       "--splits", "train", "test", "--no-progress"]) == 0  # fmt: skip
    txt = corpus / "train" / "txt"
    # Word pieces: even an untrained transducer then writes whole words all through the audio.
    assert simul_main(["data", "spm", "--input", str(txt / "train.en"), str(txt / "train.de"),
                       "--out", str(root / "spm"), "--vocab-size", "150", "--model-type", "word",
                       "--tags", "<asr>,<st>"]) == 0  # fmt: skip
    run = root / "run"
    assert simul_main([
        "train", str(EXPERIMENTS / "asr_tt_tiny.yaml"), f"data.corpus_dir={corpus}",
        f"data.spm_model={root / 'spm.model'}", "data.target=joint_alignment:de",
        "data.valid_split=train", "data.test_split=null", "data.max_valid_utterances=1",
        f"trainer.output_dir={run}", "trainer.max_steps=2", "trainer.validate_every_steps=2",
        "trainer.checkpoint_every_steps=2", "trainer.progress=false", "validation.metric=asr/WER",
    ]) == 0  # fmt: skip
    return Built(corpus=corpus, checkpoint=run / "checkpoints" / "last.pt")


def _simuleval(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the ``simuleval`` console command (or its module) in a subprocess."""
    script = Path(sys.executable).parent / "simuleval"
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "simuleval.cli"]
    result = subprocess.run([*command, *argv], cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


#: model, policy, primary stream, how SimulEval loads the agent, instances (the transducer is slow).
CASES = {
    "toy-waitk": (["--model", "toy"], ["--policy", "waitk", "--set", "policy.k=2"], None, "class", 2),
    "toy-joint-alignatt-st": (["--model", "toy", *JOINT_TOY], ["--policy", "alignatt"], "st", "file", 2),
    "checkpoint-transducer": (None, ["--policy", "transducer", "--set", "model.max_symbols_per_frame=1"], "asr", "class", 2),
    "checkpoint-waitk": (None, ["--policy", "waitk", "--set", "policy.k=3", "--segment-ms", "400"], "asr", "file", 1),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_simuleval_run_equals_simul_eval(
    case: str, built: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, policy, primary, loading, count = CASES[case]
    model = model or ["--checkpoint", str(built.checkpoint)]
    out = tmp_path / "eval"
    argv = ["eval", str(built.corpus), *model, *policy, "--max-instances", str(count), "--output", str(out),
            "--latency-metrics", *LATENCY, "--no-progress", "--simuleval"]  # fmt: skip
    if primary:
        argv += ["--primary-stream", primary]
    assert simul_main(argv) == 0
    command = capsys.readouterr().out.splitlines()[-1]
    assert command == (out / "simuleval" / "command.sh").read_text().strip()
    simuleval_argv = shlex.split(command)[1:]
    if loading == "file":  # SimulEval imports the file as module `agents`
        position = simuleval_argv.index("--agent-class")
        simuleval_argv[position : position + 2] = ["--agent", str(AGENT_FILE)]
    _simuleval(simuleval_argv, cwd=tmp_path)

    ours = read_instances_log(out)
    theirs = read_instances_log(out / "simuleval" / "output")
    agent_log = read_instances_log(out / "simuleval" / "output" / "simul")
    primary = primary or next(iter(ours[0].streams))
    assert len(ours) == len(theirs) == len(agent_log) == count
    for mine, simuleval, logged in zip(ours, theirs, agent_log, strict=True):
        expected = mine.streams[primary]
        seen = simuleval.streams["main"]
        assert (seen.prediction, seen.delays, seen.reference) == (
            expected.prediction, expected.delays, expected.reference,
        )  # fmt: skip
        assert simuleval.source_length == mine.source_length
        assert list(logged.streams) == [primary, *(s for s in mine.streams if s != primary)]
        for name, stream in mine.streams.items():
            assert (logged.streams[name].prediction, logged.streams[name].delays) == (
                stream.prediction, stream.delays,
            )  # fmt: skip
            assert logged.streams[name].reference == stream.reference
    assert sum(len(r.streams[primary].delays) for r in ours) >= 4  # words to compare, not nothing

    reported = pd.read_csv(out / "simuleval" / "output" / "scores.tsv", sep="\t").iloc[0].to_dict()
    quality = [name for name in reported if name not in LATENCY]
    assert quality == (["WER"] if primary == "asr" else ["BLEU"])
    config = ScoringConfig(latency_metrics=tuple(LATENCY), quality_metrics=tuple(quality))
    harness = score(theirs, config).corpus.loc["main"]
    ours_scored = pd.read_csv(out / "scores.tsv", sep="\t", index_col="stream").loc[primary]
    for name, value in reported.items():
        assert round(float(harness[name]), 3) == value, name
        assert round(float(ours_scored[name]), 3) == value, name


_PROBE = textwrap.dedent('''
    """Records every policy() call; after the source ends writes a, b, c: all at once (--flush,
    finished=True) or one per call (finished only after the last)."""
    import json

    from simuleval.agents import AgentStates, SpeechToTextAgent
    from simuleval.agents.actions import ReadAction, WriteAction
    from simuleval.utils import entrypoint


    class ProbeStates(AgentStates):
        def reset(self):
            super().reset()
            self.pending = ["a", "b", "c"]


    @entrypoint
    class Probe(SpeechToTextAgent):
        @staticmethod
        def add_args(parser):
            parser.add_argument("--calls", required=True)
            parser.add_argument("--flush", action="store_true")

        def build_states(self):
            return ProbeStates()

        def policy(self, states=None):
            states = states if states is not None else self.states
            with open(self.args.calls, "a") as f:
                f.write(json.dumps([len(states.source), states.source_finished]) + "\\n")
            if not states.source_finished:
                return ReadAction()
            if self.args.flush:
                words, states.pending = states.pending, []
                return WriteAction(" ".join(words), finished=True)
            word = states.pending.pop(0)
            return WriteAction(word, finished=not states.pending)
''')


def test_simulevals_loop_gives_one_call_after_the_source_and_resets_only_after_finished(
    tmp_path: Path,
) -> None:
    """What the agent's flush relies on, measured on the installed simuleval."""
    (tmp_path / "probe.py").write_text(_PROBE)
    lengths = (16_000, 11_200)  # 1.0 s and 0.7 s at 16 kHz: 4 and 3 segments of 320 ms
    rng = np.random.default_rng(0)
    for index, length in enumerate(lengths):
        soundfile.write(
            tmp_path / f"{index}.wav", 0.1 * rng.standard_normal(length), 16_000, subtype="PCM_16"
        )
    (tmp_path / "source.txt").write_text("0.wav\n1.wav\n")
    (tmp_path / "target.txt").write_text("a b c\na b c\n")
    segment = 5120
    for flush in (True, False):
        name = "flush" if flush else "one_per_call"
        _simuleval(
            ["--agent", "probe.py", "--calls", f"{name}.calls", *(["--flush"] if flush else []),
             "--source", "source.txt", "--target", "target.txt", "--source-segment-size", "320",
             "--output", name, "--quality-metrics", "BLEU", "--latency-metrics", "AL"],
            cwd=tmp_path,
        )  # fmt: skip
        calls = [json.loads(line) for line in (tmp_path / f"{name}.calls").read_text().splitlines()]
        log = [
            json.loads(line)
            for line in (tmp_path / name / "instances.log").read_text().splitlines()
        ]
        assert len(calls) == 4 + 3  # one call per segment, and none after the last one
        assert [finished for _, finished in calls] == [False] * 3 + [True] + [False] * 2 + [True]
        if flush:
            assert [line["prediction"] for line in log] == ["a b c", "a b c"]
            assert log[0]["delays"] == [1000.0] * 3  # every word of the one call: the source length
            assert calls[4][0] == segment  # reset: the second sentence starts afresh
        else:
            # Truncated (only one word after the source), no reset: the second sentence sees the
            # first one's audio and continues its output.
            assert [line["prediction"] for line in log] == ["a", "b"]
            assert calls[4][0] == lengths[0] + segment
