"""English speech with gold word times from eSpeak NG, at 16 kHz.

Why eSpeak NG: it runs anywhere from a PyPI wheel (``espeakng-loader``, no apt, no network), is
fast (hundreds of times real time on one core), and reports where every phoneme starts, so each
word's start and end are known exactly instead of being guessed by a forced aligner.

Word times come from the synthesiser's *phoneme* events, which carry the sample where each phoneme
starts and the text position of the word it belongs to.  A word starts at its first phoneme and ends
where the next phoneme event (of the next word, or a pause) starts, or at the end of the audio: the
pauses eSpeak makes at commas and sentence ends are therefore outside every word.  eSpeak's *word*
events are not used: eSpeak speaks some word pairs as one word ("in the", "out of", "for a") and
then reports one word event for both.  Such a merged group is split by phoneme counts: each word's
phonemes when spoken alone (``espeak_TextToPhonemes``) say how many of the group's phonemes it
takes; the last word takes the rest.  Within a merged group the boundary is therefore exact when the
first word keeps its phoneme count when merged (the usual case), and off by a phoneme otherwise.
A whitespace word without letters or digits that eSpeak does not speak (":", "-", "...") gets a
zero-length span where the previous word ends.  Anything else that breaks the one-to-one map
between whitespace words and spoken words raises a ``ValueError`` naming the text (3 of the
29,000 Multi30k training sentences, e.g. "18th St. outside", where eSpeak reorders phonemes).

Audio is kept as eSpeak makes it (about 50 ms of silence before the first phoneme and a short
release after the last), converted to float32 and resampled 22,050 -> 16,000 Hz with soxr; word
times are mapped to 16 kHz samples by exact rational rounding (x 320/441).

Determinism: eSpeak NG's wave generator carries state from one utterance to the next, so the same
text is bit-identical only for the same sequence of calls from a fresh process.  ``synthesize`` is
serial per process (one lock); :func:`synthesize_many` runs fixed shards of requests, each in a
fresh worker process, so its output depends on the requests only, never on ``jobs``.

Examples:
    >>> utterance = synthesize("Two young men are playing football.", Voice("en-us+f2", 160, 55))
    >>> utterance.samples.shape, [w.word for w in utterance.words][:2]
    ((30414,), ['Two', 'young'])
"""

from __future__ import annotations

import multiprocessing
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import soxr

from simul.data import _espeak
from simul.data.instance import WordSpan

__all__ = [
    "SAMPLE_RATE",
    "SHARD_SIZE",
    "SynthesisFailure",
    "Utterance",
    "Voice",
    "add_noise",
    "speaker_table",
    "synthesize",
    "synthesize_many",
]

SAMPLE_RATE = 16_000
# Requests per fresh worker process in `synthesize_many`.  Part of the output's definition: a
# different shard size changes the audio by a few samples (eSpeak's carried-over state).
SHARD_SIZE = 64

_RESAMPLE_NUM, _RESAMPLE_DEN = 320, 441  # 16,000 / 22,050 in lowest terms
_SOXR_QUALITY = "HQ"
# Phoneme events that are not sounds of a word: pauses ("_", "_:", "_!") and eSpeak's ";" marker.
_PAUSE_PREFIX = "_"
_MARKERS = frozenset({";"})
_LEADING_PAUSES = re.compile(r"^(?:_[:!]?)+")

# Voices for `speaker_table`: English accents shipped with eSpeak NG and its voice variants.
_ACCENTS = ("en", "en-us", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-gb-x-gbcwmd", "en-us-nyc")
_VARIANTS = ("", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
_RATES_WPM = range(145, 200, 5)
_PITCHES = range(35, 66, 5)
_SPEAKER_ID = re.compile(r"^(?P<name>[^\s_]+)_(?P<rate>\d+)wpm_p(?P<pitch>\d+)$")


@dataclass(frozen=True)
class Voice:
    """A speaker: an eSpeak NG voice, a speaking rate and a pitch.

    ``speaker_id`` (e.g. ``"en-us+f2_160wpm_p55"``) names it in corpora, and
    ``Voice.from_speaker_id`` reads it back.
    """

    name: str
    """eSpeak voice: language/accent, then an optional ``+variant`` (``"en-gb-x-rp+m3"``)."""
    rate_wpm: int = 175
    """Speaking rate in words per minute (eSpeak accepts 80-450; 175 is its default)."""
    pitch: int = 50
    """Base pitch on eSpeak's 0-100 scale (50 is the voice's default)."""

    def __post_init__(self) -> None:
        if not self.name or any(c.isspace() or c == "_" for c in self.name):
            raise ValueError(
                f"`Voice.name` must be an eSpeak voice name without spaces or '_', "
                f"but is {self.name!r} instead."
            )
        if not 80 <= self.rate_wpm <= 450:
            raise ValueError(
                f"`Voice.rate_wpm` must be in [80, 450], but is {self.rate_wpm} instead."
            )
        if not 0 <= self.pitch <= 100:
            raise ValueError(f"`Voice.pitch` must be in [0, 100], but is {self.pitch} instead.")

    @property
    def speaker_id(self) -> str:
        """``{name}_{rate_wpm}wpm_p{pitch}``: unique per voice, and parseable."""
        return f"{self.name}_{self.rate_wpm}wpm_p{self.pitch}"

    @classmethod
    def from_speaker_id(cls, speaker_id: str) -> Voice:
        """The voice a ``speaker_id`` names."""
        match = _SPEAKER_ID.match(speaker_id)
        if match is None:
            raise ValueError(
                f"`speaker_id` must look like 'en-us+f2_160wpm_p55', but is {speaker_id!r} instead."
            )
        return cls(match["name"], int(match["rate"]), int(match["pitch"]))


@dataclass(frozen=True, eq=False)
class Utterance:
    """Synthesised speech and where each word of its text is spoken.

    Attributes:
        samples: (T,) float32 mono at 16 kHz, in [-1, 1].
        words: one span per whitespace word of the text, in 16 kHz samples from the start.
    """

    samples: np.ndarray
    words: tuple[WordSpan, ...]

    @property
    def num_samples(self) -> int:
        """T, the length in samples at 16 kHz."""
        return int(self.samples.shape[0])


@dataclass(frozen=True)
class SynthesisFailure:
    """A request ``synthesize_many`` could not turn into an utterance, and why."""

    text: str
    reason: str


def _token_ranges(words: Sequence[str]) -> list[tuple[int, int]]:
    """1-based ``[first, last]`` character positions of each word in ``" ".join(words)``."""
    ranges, position = [], 1
    for word in words:
        ranges.append((position, position + len(word) - 1))
        position += len(word) + 1
    return ranges


def _owner(text_position: int, ranges: Sequence[tuple[int, int]]) -> int | None:
    for index, (first, last) in enumerate(ranges):
        if first <= text_position <= last:
            return index
    return None


def _is_punctuation(word: str) -> bool:
    """A word without letters or digits (":", "-", "..."): silent when eSpeak gives it no sound."""
    return not any(character.isalnum() for character in word)


def _sounds_alone(word: str, voice: Voice) -> tuple[str, ...]:
    """The phonemes of ``word`` spoken on its own, without pauses and markers."""
    # eSpeak glues a pause to the next phoneme in this listing ("_:O@" for "(or").
    sounds = (_LEADING_PAUSES.sub("", name) for name in _espeak.phonemes_of(word, voice.name))
    return tuple(name for name in sounds if name and name not in _MARKERS)


def _first_phonemes(
    words: Sequence[str], phonemes: Sequence[_espeak.PhonemeEvent], voice: Voice, text: str
) -> list[int | None]:
    """For each word, the index (into ``phonemes``) of its first phoneme; None if unspoken."""
    ranges = _token_ranges(words)
    by_word: dict[int, list[int]] = {}
    last_owner = -1
    for index, event in enumerate(phonemes):
        if event.name.startswith(_PAUSE_PREFIX):
            continue
        owner = _owner(event.text_position, ranges)
        if owner is None or owner < last_owner:
            raise ValueError(
                f"eSpeak NG spoke phoneme {event.name!r} of {text!r} at character "
                f"{event.text_position}, which is not in order inside a whitespace word."
            )
        last_owner = owner
        by_word.setdefault(owner, []).append(index)
    if not by_word:
        raise ValueError(f"eSpeak NG spoke no phoneme of {text!r}.")

    first: list[int | None] = [None] * len(words)
    position = 0
    while position < len(words):
        if position not in by_word:
            if not _is_punctuation(words[position]):
                raise ValueError(
                    f"eSpeak NG did not speak word {position} ({words[position]!r}) of {text!r} "
                    "on its own, and no earlier word took it in: the word times would be wrong."
                )
            position += 1  # silent punctuation: zero-length span, see `_word_spans_22k`
            continue
        group_end = position + 1  # the words merged into this one (spoken, but given no sound)
        while (
            group_end < len(words)
            and group_end not in by_word
            and not _is_punctuation(words[group_end])
        ):
            group_end += 1
        if group_end == position + 1:
            first[position] = by_word[position][0]
            position = group_end
            continue
        sounds = [i for i in by_word[position] if phonemes[i].name not in _MARKERS]
        offset = 0
        for member in range(position, group_end):
            alone = len(_sounds_alone(words[member], voice))
            if alone == 0 and _is_punctuation(words[member]):
                continue  # silent inside the group ("-" of "- ran")
            if alone == 0 or offset >= len(sounds):
                raise ValueError(
                    f"eSpeak NG spoke words {position}-{group_end - 1} "
                    f"({' '.join(words[position:group_end])!r}) of {text!r} as one word with "
                    f"{len(sounds)} phonemes, which cannot be shared out to word {member} "
                    f"({words[member]!r}) by its {alone} phonemes alone."
                )
            first[member] = sounds[offset]
            offset += alone
        position = group_end
    return first


def _word_spans_22k(
    words: Sequence[str], raw: _espeak.RawSynthesis, voice: Voice, text: str
) -> list[tuple[int, int]]:
    """``(start, end)`` of each word in 22,050 Hz samples (see the module docstring)."""
    phonemes = raw.phonemes
    num_samples = int(raw.samples.shape[0])
    first = _first_phonemes(words, phonemes, voice, text)
    spoken = [i for i in first if i is not None]
    spans: list[tuple[int, int]] = []
    for index in first:
        if index is None:  # unspoken: zero length where the previous word ends
            at = spans[-1][1] if spans else min(phonemes[spoken[0]].sample, num_samples)
            spans.append((at, at))
            continue
        following = spoken.index(index) + 1
        stop = spoken[following] if following < len(spoken) else len(phonemes)
        last_sound = max(
            i for i in range(index, stop) if not phonemes[i].name.startswith(_PAUSE_PREFIX)
        )
        start = min(phonemes[index].sample, num_samples)
        end = phonemes[last_sound + 1].sample if last_sound + 1 < len(phonemes) else num_samples
        spans.append((start, min(max(start, end), num_samples)))
    return spans


def _to_16k(sample_22k: int, limit: int) -> int:
    return min((sample_22k * _RESAMPLE_NUM + _RESAMPLE_DEN // 2) // _RESAMPLE_DEN, limit)


def synthesize(text: str, voice: Voice) -> Utterance:
    """Speak ``text`` (English) with ``voice``; word times for every whitespace word.

    Serial per process: the eSpeak NG library is one global state, guarded by a lock.  The audio
    depends a few samples on what this process synthesised before (see the module docstring).

    Args:
        text: the sentence; whitespace runs count as one separator.
        voice: who speaks, how fast and how high.

    Returns:
        The utterance: (T,) float32 at 16 kHz and one ``WordSpan`` per word of ``text.split()``.

    Raises:
        ValueError: empty text, an unknown voice, or words that cannot be mapped one-to-one to
            what eSpeak spoke (the message names the text and the word).
    """
    words = text.split()
    if not words:
        raise ValueError(f"`text` must contain at least one word, but is {text!r} instead.")
    spoken = " ".join(words)
    raw = _espeak.synthesize_raw(spoken, voice.name, voice.rate_wpm, voice.pitch)
    if raw.samples.shape[0] == 0:
        raise ValueError(f"eSpeak NG made no audio for {spoken!r} with voice {voice.speaker_id}.")
    spans = _word_spans_22k(words, raw, voice, spoken)
    audio = raw.samples.astype(np.float32) / np.float32(32768.0)
    samples = soxr.resample(audio, _espeak.ESPEAK_SAMPLE_RATE, SAMPLE_RATE, quality=_SOXR_QUALITY)
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    limit = int(samples.shape[0])
    word_spans = tuple(
        WordSpan(word, _to_16k(start, limit), _to_16k(end, limit))
        for word, (start, end) in zip(words, spans, strict=True)
    )
    return Utterance(samples=samples, words=word_spans)


def add_noise(
    samples: np.ndarray,
    snr_db: float,
    rng: np.random.Generator,
    *,
    signal_power: float | None = None,
) -> np.ndarray:
    """Add white Gaussian noise at a signal-to-noise ratio.

    Args:
        samples: (T,) float32 waveform.
        snr_db: signal power over noise power, in dB.
        rng: the generator that draws the noise (seed it for reproducible corpora).
        signal_power: mean square of the speech the SNR refers to (default: of ``samples``;
            pass the speech-only power when ``samples`` includes inserted silence).

    Returns:
        (T,) float32, clipped to [-1, 1].
    """
    if not np.isfinite(snr_db):
        raise ValueError(f"`snr_db` must be a finite number of dB, but is {snr_db} instead.")
    power = (
        float(np.mean(np.square(samples, dtype=np.float64)))
        if signal_power is None
        else signal_power
    )
    if not power > 0:
        raise ValueError(f"the signal power must be > 0 to set an SNR, but is {power} instead.")
    noise_std = np.sqrt(power / 10 ** (snr_db / 10))
    noise = rng.standard_normal(samples.shape[0]) * noise_std
    return np.clip(samples + noise, -1.0, 1.0).astype(np.float32)


def speaker_table(num_speakers: int, seed: int) -> tuple[Voice, ...]:
    """``num_speakers`` distinct voices (accent, variant, rate, pitch) drawn with ``seed``.

    Returns:
        Voices in draw order; the same seed gives the same table.
    """
    combinations = len(_ACCENTS) * len(_VARIANTS) * len(_RATES_WPM) * len(_PITCHES)
    if not 1 <= num_speakers <= combinations // 2:
        raise ValueError(
            f"`num_speakers` must be in [1, {combinations // 2}], but is {num_speakers} instead."
        )
    rng = random.Random(seed)
    voices: dict[str, Voice] = {}
    while len(voices) < num_speakers:
        variant = rng.choice(_VARIANTS)
        name = rng.choice(_ACCENTS) + (f"+{variant}" if variant else "")
        voice = Voice(name, rng.choice(_RATES_WPM), rng.choice(_PITCHES))
        voices.setdefault(voice.speaker_id, voice)
    return tuple(voices.values())


def _synthesize_shard(
    requests: Sequence[tuple[str, Voice]],
) -> list[Utterance | SynthesisFailure]:
    """Worker body: synthesise one shard in order, turning bad texts into failures."""
    results: list[Utterance | SynthesisFailure] = []
    for text, voice in requests:
        try:
            results.append(synthesize(text, voice))
        except ValueError as error:
            results.append(SynthesisFailure(text=text, reason=str(error)))
    return results


def synthesize_many(
    requests: Sequence[tuple[str, Voice]], *, jobs: int = 1
) -> Iterator[Utterance | SynthesisFailure]:
    """Synthesise many ``(text, voice)`` requests reproducibly, in a pool of fresh processes.

    Every shard of ``SHARD_SIZE`` consecutive requests runs in a new worker process (forkserver,
    or spawn where there is none), so each shard starts from eSpeak NG's initial state: the
    output is byte-identical for the same requests whatever ``jobs`` is, and whatever this
    process synthesised before.  A fresh process costs tens of milliseconds against about a
    second of synthesis per shard.  As always with these start methods, a script that calls this
    must do so under ``if __name__ == "__main__":`` (the ``simul`` command does).

    Args:
        requests: what to say and who says it, in output order.
        jobs: worker processes running at once (>= 1).

    Yields:
        One result per request, in order: the utterance, or a ``SynthesisFailure`` for a text
        whose words cannot be timed (see ``synthesize``).
    """
    if jobs < 1:
        raise ValueError(f"`jobs` must be >= 1, but is {jobs} instead.")
    if not requests:
        return
    shards = [requests[i : i + SHARD_SIZE] for i in range(0, len(requests), SHARD_SIZE)]
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if context.get_start_method() == "forkserver":
        context.set_forkserver_preload([__name__])
    with context.Pool(processes=min(jobs, len(shards)), maxtasksperchild=1) as pool:
        for results in pool.imap(_synthesize_shard, shards):
            yield from results
