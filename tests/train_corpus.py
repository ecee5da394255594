"""A tiny MuST-C layout corpus for training tests: noise audio, short texts, SPM and CMVN.

Built in a second (no TTS): each utterance is noise whose loudness depends on its text, so a
model has something to fit, though nothing like speech.  ``simul data synth --size tiny`` builds
real speech but takes ~10 s; the training tests only check the loop's mechanics.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from simul.data.corpus_writer import write_instances
from simul.data.features.cmvn import compute_cmvn
from simul.data.features.fbank import FbankConfig
from simul.data.instance import Instance
from simul.data.tokenizer import SpmConfig, train_sentencepiece

SAMPLE_RATE = 16_000
_WORDS = ("red", "green", "blue", "cat", "dog", "runs", "sleeps", "the", "a", "big")


@dataclass(frozen=True)
class TinyCorpus:
    root: Path
    spm_model: Path
    cmvn: Path


def _sentences(rng: np.random.Generator, count: int) -> list[str]:
    return [
        " ".join(rng.choice(_WORDS, size=int(rng.integers(2, 5)))).capitalize() + "."
        for _ in range(count)
    ]


def _write_split(root: Path, split: str, count: int, rng: np.random.Generator) -> list[Instance]:
    split_dir = root / split
    (split_dir / "wav").mkdir(parents=True, exist_ok=True)
    instances = []
    for index, sentence in enumerate(_sentences(rng, count)):
        num_samples = int(SAMPLE_RATE * rng.uniform(0.4, 1.0))
        level = 0.02 + 0.01 * (len(sentence) % 7)
        samples = (level * rng.standard_normal(num_samples)).astype(np.float32)
        path = split_dir / "wav" / f"{split}_{index}.wav"
        soundfile.write(path, samples, SAMPLE_RATE)
        instances.append(
            Instance(
                id=f"{split}_{index}",
                audio_path=path,
                offset_samples=0,
                num_samples=num_samples,
                sample_rate=SAMPLE_RATE,
                source_text=sentence,
                target_texts={"de": sentence.upper()},
            )
        )
    write_instances(split_dir, split, instances, ("de",))
    return instances


def write_tiny_corpus(root: Path, *, num_train: int = 24, seed: int = 0) -> TinyCorpus:
    """Write train/dev/test splits, a character SentencePiece model and CMVN under ``root``."""
    rng = np.random.default_rng(seed)
    train = _write_split(root, "train", num_train, rng)
    _write_split(root, "dev", 6, rng)
    _write_split(root, "test", 6, rng)
    spm = train_sentencepiece(
        root / "spm", SpmConfig(vocab_size=40, model_type="char"),
        texts=[instance.source_text for instance in train],
    )  # fmt: skip
    cmvn_path = root / "cmvn.npz"
    compute_cmvn(train, FbankConfig(), progress=False).save(cmvn_path)
    return TinyCorpus(root=root, spm_model=spm.model_path, cmvn=cmvn_path)
