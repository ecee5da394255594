"""eSpeak NG through ctypes: raw 22,050 Hz audio plus the synthesiser's phoneme events.

Why ctypes on the ``espeakng-loader`` wheel: the wheel bundles ``libespeak-ng`` 1.52 and its data,
so synthesis needs no apt package and no subprocess.  The library is GPL-3.0-or-later and is only
loaded at run time, never vendored.

The library is one process-global state machine (one voice, one callback, one wave generator
whose phase carries over from one utterance to the next).  This module therefore keeps exactly one
:class:`_Engine` per process behind one lock, initialised on first use: synthesis is serial within
a process.  Because the carried-over state changes the next utterance by a few samples, the same
text is bit-identical only for the same sequence of calls from a fresh process; ``simul.data.tts``
builds corpora in fresh worker processes for that reason.

Everything here is private: ``simul.data.tts`` turns these raw events into word times.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from pathlib import Path

import espeakng_loader
import numpy as np

__all__ = ["ESPEAK_SAMPLE_RATE", "PhonemeEvent", "RawSynthesis", "phonemes_of", "synthesize_raw"]

# What espeak_Initialize returns for AUDIO_OUTPUT_SYNCHRONOUS with the bundled voices.
ESPEAK_SAMPLE_RATE = 22_050

# speak_lib.h constants (espeak-ng 1.52).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_DONT_EXIT = 0x8000  # return an error instead of calling exit() when data is missing
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_PHONEME = 7
_PARAM_RATE = 1
_PARAM_PITCH = 3
_EE_OK = 0
# Audio buffer per callback in ms.  eSpeak's event list then holds (100 * 200) // 1000 + 20 = 40
# entries and drops every event past 38 (MarkerEvent in speech.c): a full list means lost events.
_BUFFER_MS = 100
_MAX_EVENTS_PER_CALLBACK = (_BUFFER_MS * 200) // 1000 + 20 - 2
_RAND_SEED = 0
# espeak_TextToPhonemes phonememode: ASCII mnemonics, bits 8-23 = separator between phonemes.
_PHONEME_SEPARATOR = "|"
_PHONEME_MODE = ord(_PHONEME_SEPARATOR) << 8


class _Event(ctypes.Structure):
    """``espeak_EVENT`` from speak_lib.h (40 bytes on 64-bit platforms)."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


# int SynthCallback(short *wav, int numsamples, espeak_EVENT *events); pointers taken as void* so
# that ctypes never has to build argument objects for them.
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)


@dataclass(frozen=True)
class PhonemeEvent:
    """One phoneme as eSpeak NG reports it.

    Attributes:
        name: eSpeak's ASCII mnemonic (``"t"``, ``"'eI"``, ``"_:"`` for a pause).
        text_position: 1-based character index of the word (as eSpeak grouped it) it belongs to.
        sample: where it starts, in samples at 22,050 Hz from the start of the utterance.
    """

    name: str
    text_position: int
    sample: int


@dataclass(frozen=True)
class RawSynthesis:
    """What one ``espeak_Synth`` call produced.

    Attributes:
        samples: (T,) int16 mono at 22,050 Hz.
        phonemes: the phoneme events in the order eSpeak emitted them.
    """

    samples: np.ndarray
    phonemes: tuple[PhonemeEvent, ...]


class _Engine:
    """The one initialised eSpeak NG of this process; every method must run under ``_LOCK``."""

    def __init__(self) -> None:
        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self._declare_functions()
        data_path = Path(espeakng_loader.get_data_path())
        self.variants = frozenset(path.name for path in (data_path / "voices" / "!v").iterdir())
        sample_rate = self._lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS,
            _BUFFER_MS,
            str(data_path).encode(),
            _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT,
        )
        if sample_rate != ESPEAK_SAMPLE_RATE:
            raise RuntimeError(
                f"espeak_Initialize with data {data_path} must return {ESPEAK_SAMPLE_RATE} Hz, "
                f"but returned {sample_rate} instead."
            )
        self._chunks: list[np.ndarray] = []
        self._events: list[PhonemeEvent] = []
        self._callback_error: BaseException | None = None
        self._voice: str | None = None  # the voice eSpeak has selected now
        self._events_lost = False  # a callback's event list was full: eSpeak dropped some
        # Kept on the engine: ctypes frees the C thunk when the Python object dies.
        self._callback = _CALLBACK(self._on_audio)
        self._lib.espeak_SetSynthCallback(self._callback)

    def _declare_functions(self) -> None:
        lib = self._lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed.restype = None
        lib.espeak_Synchronize.argtypes = []
        lib.espeak_Synchronize.restype = ctypes.c_int
        lib.espeak_TextToPhonemes.argtypes = [
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.c_int,
            ctypes.c_int,
        ]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p

    def _on_audio(self, wav: int | None, num_samples: int, events: int | None) -> int:
        """eSpeak's synth callback: copy the audio chunk and the phoneme events; 1 aborts."""
        try:
            if wav and num_samples > 0:
                pointer = ctypes.cast(wav, ctypes.POINTER(ctypes.c_short))
                self._chunks.append(np.ctypeslib.as_array(pointer, (num_samples,)).copy())
            if events:
                event_array = ctypes.cast(events, ctypes.POINTER(_Event))
                index = 0
                while event_array[index].type != _EVENT_LIST_TERMINATED:
                    event = event_array[index]
                    if event.type == _EVENT_PHONEME:
                        name = bytes(event.id).split(b"\0", 1)[0].decode("ascii", "replace")
                        self._events.append(PhonemeEvent(name, event.text_position, event.sample))
                    index += 1
                if index >= _MAX_EVENTS_PER_CALLBACK:
                    self._events_lost = True
        except BaseException as error:  # an exception must not cross the C stack
            self._callback_error = error
            return 1
        return 0

    def select_voice(self, name: str) -> None:
        """Select a voice by eSpeak name (``"en-us"``, ``"en+f2"``: language, then variant).

        A no-op when ``name`` is already selected: every ``espeak_SetVoiceByName`` queues an
        event for the next synthesis, and a few dozen of them overflow eSpeak's event list,
        which then silently drops the first phoneme events of the next utterance.
        """
        if name == self._voice:
            return
        base, _, variant = name.partition("+")
        if variant and variant not in self.variants:
            raise ValueError(
                f"voice variant `{variant}` of `{name}` must be one of eSpeak NG's "
                f"({', '.join(sorted(self.variants)[:12])}, ...), but is unknown."
            )
        status = self._lib.espeak_SetVoiceByName(name.encode())
        if status != _EE_OK:
            raise ValueError(
                f"voice `{base}` must be an eSpeak NG voice, but eSpeak does not know it."
            )
        self._voice = name

    def set_voice(self, name: str, rate_wpm: int, pitch: int) -> None:
        """Select a voice, its speaking rate (words per minute) and its base pitch (0-100)."""
        self.select_voice(name)
        for parameter, value in ((_PARAM_RATE, rate_wpm), (_PARAM_PITCH, pitch)):
            if self._lib.espeak_SetParameter(parameter, value, 0) != _EE_OK:
                raise ValueError(f"eSpeak NG refused parameter {parameter} = {value} for `{name}`.")

    def synthesize(self, text: str) -> RawSynthesis:
        """Speak ``text`` with the current voice."""
        self._chunks = []
        self._events = []
        self._callback_error = None
        self._events_lost = False
        # espeak_Initialize seeds eSpeak's noise generator with the clock; fix it per utterance.
        self._lib.espeak_ng_SetRandSeed(_RAND_SEED)
        buffer = ctypes.create_string_buffer(text.encode("utf-8"))
        status = self._lib.espeak_Synth(
            buffer, ctypes.sizeof(buffer), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
        )
        self._lib.espeak_Synchronize()
        if self._callback_error is not None:
            raise RuntimeError(f"eSpeak NG callback failed on {text!r}.") from self._callback_error
        if status != _EE_OK:
            raise RuntimeError(f"espeak_Synth failed with status {status} on {text!r}.")
        if self._events_lost:
            raise ValueError(
                f"eSpeak NG's event list overflowed while speaking {text!r}: phoneme events were "
                "dropped, so the word times would be wrong."
            )
        samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        return RawSynthesis(samples=samples, phonemes=tuple(self._events))

    def phonemes_of(self, text: str) -> tuple[str, ...]:
        """The phoneme mnemonics eSpeak would speak for ``text`` with the current voice."""
        buffer = ctypes.create_string_buffer(text.encode("utf-8"))
        pointer = ctypes.c_void_p(ctypes.addressof(buffer))
        names: list[str] = []
        while pointer.value:
            clause = self._lib.espeak_TextToPhonemes(
                ctypes.byref(pointer), _CHARS_UTF8, _PHONEME_MODE
            )
            if clause is None:
                break
            for word in clause.decode("ascii", "replace").split():
                names.extend(name for name in word.split(_PHONEME_SEPARATOR) if name)
        return tuple(names)


_LOCK = threading.Lock()
_ENGINE: list[_Engine] = []  # zero or one engine; a list so that no `global` statement is needed


def _engine() -> _Engine:
    if not _ENGINE:
        _ENGINE.append(_Engine())
    return _ENGINE[0]


def synthesize_raw(text: str, voice_name: str, rate_wpm: int, pitch: int) -> RawSynthesis:
    """Speak ``text`` with a voice; serial per process (one lock around the library)."""
    with _LOCK:
        engine = _engine()
        engine.set_voice(voice_name, rate_wpm, pitch)
        return engine.synthesize(text)


def phonemes_of(text: str, voice_name: str) -> tuple[str, ...]:
    """The phoneme mnemonics of ``text`` spoken alone by ``voice_name`` (no audio is made)."""
    with _LOCK:
        engine = _engine()
        engine.select_voice(voice_name)
        return engine.phonemes_of(text)
