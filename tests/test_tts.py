"""eSpeak NG speech with word times: shapes, word spans, mismatches, voices, noise, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simul.data import tts
from simul.data.tts import (
    SAMPLE_RATE,
    SynthesisFailure,
    Utterance,
    Voice,
    add_noise,
    speaker_table,
    synthesize,
    synthesize_many,
)


def _span(utterance: Utterance, word: str) -> tuple[int, int]:
    (span,) = [w for w in utterance.words if w.word == word]
    return span.start_sample, span.end_sample


def _check_word_times(utterance: Utterance, text: str) -> None:
    assert [w.word for w in utterance.words] == text.split()
    for word in utterance.words:
        assert 0 <= word.start_sample <= word.end_sample <= utterance.num_samples
    for before, after in zip(utterance.words, utterance.words[1:], strict=False):
        assert before.end_sample <= after.start_sample


def test_audio_is_16khz_mono_float32_with_increasing_word_times() -> None:
    text = "Two young men, are playing football on a green field."
    utterance = synthesize(text, Voice("en-us+f2", rate_wpm=160, pitch=55))
    assert SAMPLE_RATE == 16_000
    assert utterance.samples.dtype == np.float32 and utterance.samples.ndim == 1
    assert 1.5 * SAMPLE_RATE < utterance.num_samples < 5 * SAMPLE_RATE
    assert np.all(np.abs(utterance.samples) <= 1.0) and np.abs(utterance.samples).max() > 0.1
    _check_word_times(utterance, text)
    assert all(w.end_sample - w.start_sample > 0.03 * SAMPLE_RATE for w in utterance.words)
    # Nearly all the speech energy lies inside the word spans (pauses and lead-in are outside).
    energy = np.square(utterance.samples.astype(np.float64))
    inside = sum(energy[w.start_sample : w.end_sample].sum() for w in utterance.words)
    assert inside / energy.sum() > 0.99


def test_comma_pause_lies_between_words() -> None:
    utterance = synthesize("Two young men, are playing football.", Voice("en"))
    _, men_end = _span(utterance, "men,")
    are_start, _ = _span(utterance, "are")
    assert are_start - men_end > 0.1 * SAMPLE_RATE  # eSpeak pauses about 200 ms at a comma
    assert np.abs(utterance.samples[men_end + 160 : are_start - 160]).max() < 0.01


def test_words_espeak_merges_get_their_own_spans() -> None:
    # eSpeak speaks "in the" and "out of" as one word each and reports one word event for both.
    text = "Camels take a break in the desert out of a building."
    utterance = synthesize(text, Voice("en"))
    _check_word_times(utterance, text)
    for first, second in (("in", "the"), ("out", "of")):
        first_span, second_span = _span(utterance, first), _span(utterance, second)
        assert first_span[1] - first_span[0] > 0.03 * SAMPLE_RATE
        assert second_span[1] - second_span[0] > 0.03 * SAMPLE_RATE
        assert first_span[1] == second_span[0]


def test_silent_punctuation_has_zero_length_and_spoken_symbols_keep_theirs() -> None:
    text = "A man - in a red shirt ... waves."
    utterance = synthesize(text, Voice("en"))
    _check_word_times(utterance, text)
    assert _span(utterance, "-")[0] == _span(utterance, "-")[1] == _span(utterance, "man")[1]
    assert _span(utterance, "...")[0] == _span(utterance, "...")[1]
    # A symbol eSpeak does speak keeps its sound ("%" is "percent").
    sale = synthesize("A 50 % off sale.", Voice("en"))
    start, end = _span(sale, "%")
    assert end - start > 0.1 * SAMPLE_RATE


def test_words_that_cannot_be_timed_raise_naming_the_text() -> None:
    # eSpeak reads "St." as a sentence end and reorders the phonemes around it.
    text = "There is a crowd on the busy corner of 18th St. outside Bank of America."
    with pytest.raises(ValueError, match="busy corner of 18th St"):
        synthesize(text, Voice("en"))
    with pytest.raises(ValueError, match="at least one word"):
        synthesize("   ", Voice("en"))


def test_unknown_voices_are_errors() -> None:
    with pytest.raises(ValueError, match="eSpeak NG voice"):
        synthesize("Hello.", Voice("xx-nowhere"))
    with pytest.raises(ValueError, match="variant `nonexistent`"):
        synthesize("Hello.", Voice("en+nonexistent"))
    with pytest.raises(ValueError, match="rate_wpm"):
        Voice("en", rate_wpm=20)
    with pytest.raises(ValueError, match="pitch"):
        Voice("en", pitch=101)
    with pytest.raises(ValueError, match="speaker_id"):
        Voice.from_speaker_id("en us")


@given(
    name=st.sampled_from(["en", "en-us+f2", "en-gb-x-rp+m3", "en-029"]),
    rate=st.integers(80, 450),
    pitch=st.integers(0, 100),
)
def test_speaker_id_round_trips(name: str, rate: int, pitch: int) -> None:
    voice = Voice(name, rate, pitch)
    assert Voice.from_speaker_id(voice.speaker_id) == voice


def test_speaker_table_is_seeded_and_distinct() -> None:
    table = speaker_table(12, seed=3)
    assert table == speaker_table(12, seed=3)
    assert table != speaker_table(12, seed=4)
    assert len({voice.speaker_id for voice in table}) == 12
    with pytest.raises(ValueError, match="num_speakers"):
        speaker_table(0, seed=0)


def test_add_noise_hits_the_snr_and_is_seeded() -> None:
    t = np.arange(SAMPLE_RATE * 2) / SAMPLE_RATE
    signal = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    noisy = add_noise(signal, 10.0, np.random.default_rng(0))
    noise = noisy.astype(np.float64) - signal
    snr_db = 10 * np.log10(np.mean(signal.astype(np.float64) ** 2) / np.mean(noise**2))
    assert abs(snr_db - 10.0) < 0.1
    assert noisy.dtype == np.float32
    assert np.array_equal(noisy, add_noise(signal, 10.0, np.random.default_rng(0)))
    with pytest.raises(ValueError, match="signal power"):
        add_noise(np.zeros(100, np.float32), 10.0, np.random.default_rng(0))


def test_synthesize_many_is_identical_whatever_the_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tts, "SHARD_SIZE", 3)  # several shards, each in a fresh process
    voices = speaker_table(3, seed=0)
    texts = [f"The {n} cats sleep in the garden." for n in ("two", "three", "four", "five")]
    texts += ["There is a crowd on the busy corner of 18th St. outside Bank of America."]
    requests = [(text, voices[i % 3]) for i, text in enumerate(texts)]
    serial = list(synthesize_many(requests, jobs=1))
    parallel = list(synthesize_many(requests, jobs=2))
    assert isinstance(serial[-1], SynthesisFailure) and "18th St" in serial[-1].reason
    assert isinstance(parallel[-1], SynthesisFailure)
    for (text, _), one, other in zip(requests[:-1], serial, parallel, strict=False):
        assert isinstance(one, Utterance) and isinstance(other, Utterance)
        assert [w.word for w in one.words] == text.split()
        assert np.array_equal(one.samples, other.samples)
        assert one.words == other.words
    with pytest.raises(ValueError, match="jobs"):
        list(synthesize_many(requests, jobs=0))


def test_a_full_event_list_is_an_error_not_silently_wrong_times() -> None:
    # What broke: every espeak_SetVoiceByName queues an event for the next synthesis; dozens of
    # them filled eSpeak's event list, which then dropped the first phoneme events of the next
    # utterance (its first word lost its time).  Voices are now selected only when they change,
    # and a full list is detected.
    from simul.data import _espeak

    with _espeak._LOCK:
        engine = _espeak._engine()
        for name in ("en", "en-us") * 30:
            engine._lib.espeak_SetVoiceByName(name.encode())
        engine._voice = None
    with pytest.raises(ValueError, match="event list overflowed"):
        _espeak.synthesize_raw("A woman in a blue jacket rides a pony.", "en", 175, 50)
    utterance = synthesize("A woman in a blue jacket rides a pony.", Voice("en"))
    assert utterance.words[0].end_sample > utterance.words[0].start_sample
