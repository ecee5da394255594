"""A tiny MuST-C layout corpus of multi-sentence talks, with gold word times and alignments.

Built in milliseconds (noise audio, no TTS): each talk wav holds its sentences with silence
before, between and after them, as the built-in corpus' talks do; each sentence's words are
spread evenly over it, and its German "translation" is its words upper-cased, reversed, so the
alignments are not the identity.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from simul.data.corpus_writer import write_instances
from simul.data.instance import Instance, WordSpan

SAMPLE_RATE = 16_000
_WORDS = ("red", "green", "blue", "cat", "dog", "runs", "sleeps", "the", "a", "big")


def write_talk_corpus(
    root: Path, sentences_per_talk: tuple[int, ...] = (3, 1, 2), *, split: str = "test",
    seed: int = 0, gap_samples: int = 4000, sentence_samples: tuple[int, int] = (8000, 20000),
) -> list[Instance]:  # fmt: skip
    """Write ``root/split`` with one talk wav per entry (that many sentences); return the sentences.

    ``sentence_samples`` bounds each sentence's length; ``gap_samples`` of silence lie before,
    between and after the sentences (0 gives a wav that is exactly its sentences).
    """
    rng = np.random.default_rng(seed)
    split_dir = root / split
    (split_dir / "wav").mkdir(parents=True, exist_ok=True)
    sentences: list[Instance] = []
    for talk_index, count in enumerate(sentences_per_talk):
        path = split_dir / "wav" / f"{split}_talk{talk_index}.wav"
        pieces = [np.zeros(gap_samples, dtype=np.float32)]
        offset = gap_samples
        for position in range(count):
            num_samples = int(rng.integers(*sentence_samples))
            words = [str(w) for w in rng.choice(_WORDS, size=int(rng.integers(2, 5)))]
            step = num_samples // len(words)
            spans = tuple(
                WordSpan(word, i * step, (i + 1) * step - 1) for i, word in enumerate(words)
            )
            target = [w.upper() for w in reversed(words)]
            sentences.append(
                Instance(
                    id=f"{split}_talk{talk_index}_{position}",
                    audio_path=path,
                    offset_samples=offset,
                    num_samples=num_samples,
                    sample_rate=SAMPLE_RATE,
                    source_text=" ".join(words),
                    target_texts={"de": " ".join(target)},
                    speaker_id="spk",
                    source_words=spans,
                    alignments={"de": tuple((i, len(words) - 1 - i) for i in range(len(words)))},
                )
            )
            pieces += [
                (0.05 * rng.standard_normal(num_samples)).astype(np.float32),
                np.zeros(gap_samples, dtype=np.float32),
            ]
            offset += num_samples + gap_samples
        soundfile.write(path, np.concatenate(pieces), SAMPLE_RATE)
    write_instances(split_dir, split, sentences, ("de",))
    return sentences
