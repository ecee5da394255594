"""Named target transforms: what text a model is trained to write for an instance.

Why names: a training data config selects its targets with one string, and the same string
tells the vocabulary which tags it needs.  A target transform is any ``Instance -> str``
callable; :func:`get_target_transform` builds one from its name:

- ``asr``: the transcript (``Instance.source_text``);
- ``st:LANG``: the translation into ``LANG`` (``Instance.target_texts[LANG]``);
- ``joint_alignment:LANGS``: the serialized transcript and translations, ordered by alignment;
- ``joint_timestamp:LANGS``: the same, ordered by source word times;
- ``joint_timestamp:LANGS:lag_ms=N``: the same, every target word N ms of audio later.

``LANGS`` is one language (``de``) or several joined by ``+`` (``de+es``, one-to-many); the
ordering and tag rules are in ``simul.serialize.order`` and ``simul.serialize.streams``.

Alignments: by default each instance's own ``Instance.alignments`` (the built-in corpus has gold
ones).  For a corpus without them, ``simul data align`` writes eflomal alignments keyed by
instance id, and ``get_target_transform(name, alignments=read_alignments(paths))`` uses those
instead (``simul.serialize.alignment_file``).  The timestamp order also needs
``Instance.source_words`` (gold word times in the built-in corpus).

A joint model end to end: train the vocabulary with ``transform.layout.tags`` as its tags
(``simul data spm --tags '<asr>,<st>' --input train.en train.de ...``), encode each target with
``SerializedTextEncoder(tokenizer, transform.layout)(transform(instance))``, and turn the pieces
the model emits back into scorer records with ``joint_instance_output(..., transform.layout,
unit="piece", references=transform.layout.references(instance))``.

Examples:
    >>> transform = get_target_transform("joint_alignment:de")
    >>> transform.layout.tags  # the tags the SentencePiece model needs
    ('<asr>', '<st>')
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, final

from simul.data.instance import Instance, samples_to_ms
from simul.registry import Registry
from simul.serialize.order import (
    Alignment,
    TargetWords,
    order_by_alignment,
    order_by_time,
    serialized_text,
)
from simul.serialize.streams import StreamLayout

__all__ = [
    "TARGET_TRANSFORMS",
    "TARGET_TRANSFORM_NAMES",
    "AlignmentTables",
    "JointTarget",
    "SerializationMode",
    "SourceText",
    "TargetText",
    "TargetTransform",
    "get_target_transform",
]

#: What a trainer calls to get an instance's target text.
TargetTransform = Callable[[Instance], str]

#: Alignments by target language, then by instance id.
AlignmentTables = Mapping[str, Mapping[str, Alignment]]

SerializationMode = Literal["alignment", "timestamp"]

#: The name patterns :func:`get_target_transform` accepts.
TARGET_TRANSFORM_NAMES = (
    "asr",
    "st:LANG",
    "joint_alignment:LANGS",
    "joint_timestamp:LANGS",
    "joint_timestamp:LANGS:lag_ms=N",
)

_LAG = re.compile(r"^lag_ms=(?P<value>[0-9]+(?:\.[0-9]+)?)$")


@final
@dataclass(frozen=True)
class SourceText:
    """The transcript as the target (an ASR model)."""

    def __call__(self, instance: Instance) -> str:
        # Imported here: the feature pipeline loads torch and fairseq2, which serialization
        # (and `simul data align`) never needs; a trainer has loaded them already.
        from simul.data.features.pipeline import source_text

        return source_text(instance)


@final
@dataclass(frozen=True)
class TargetText:
    """The translation into ``lang`` as the target (an ST model)."""

    lang: str
    """The target language code."""

    def __call__(self, instance: Instance) -> str:
        from simul.data.features.pipeline import translation_text  # see SourceText

        return translation_text(self.lang)(instance)


@final
@dataclass(frozen=True, kw_only=True, eq=False)
class JointTarget:
    """The serialized transcript and translations of an instance, with stream tags.

    Example:
        >>> JointTarget(mode="alignment", target_langs=("de",))(instance)
        '<asr> because <st> weil <asr> the <st> der ...'
    """

    mode: SerializationMode
    """``alignment`` (after the last aligned source word) or ``timestamp`` (merged by time)."""
    target_langs: tuple[str, ...]
    """Target languages, in tie order; one gives streams asr+st, several asr+one per language."""
    target_lag_ms: float = 0.0
    """Timestamp mode only: audio added to every target word's time, in ms."""
    alignments: AlignmentTables | None = None
    """Alignments by language and instance id, used instead of ``Instance.alignments``."""
    layout: StreamLayout = field(init=False)
    """The streams and tags (derived from ``target_langs``)."""

    def __post_init__(self) -> None:
        if self.mode not in ("alignment", "timestamp"):
            raise ValueError(
                f"`mode` must be 'alignment' or 'timestamp', but is {self.mode!r} instead."
            )
        object.__setattr__(self, "layout", StreamLayout(tuple(self.target_langs)))
        if not (isinstance(self.target_lag_ms, (int, float)) and math.isfinite(self.target_lag_ms)
                and self.target_lag_ms >= 0):  # fmt: skip
            raise ValueError(
                f"`target_lag_ms` must be a finite number >= 0, but is {self.target_lag_ms!r} instead."
            )
        if self.target_lag_ms and self.mode != "timestamp":
            raise ValueError("`target_lag_ms` applies to the timestamp mode only.")

    def _alignment(self, instance: Instance, lang: str) -> Alignment:
        if self.alignments is not None and lang in self.alignments:
            table = self.alignments[lang]
            if instance.id not in table:
                raise ValueError(
                    f"instance {instance.id!r} has no {lang!r} alignment in the given alignment "
                    "table; align every split you train on (`simul data align`)."
                )
            return tuple(table[instance.id])
        if instance.alignments is None or lang not in instance.alignments:
            raise ValueError(
                f"instance {instance.id!r} has no {lang!r} alignment: the built-in corpus has gold "
                "ones; for another corpus run `simul data align CORPUS_DIR --lang "
                f"{lang}` and pass its file (`read_alignments`) as `alignments`."
            )
        return tuple(instance.alignments[lang])

    def _source_end_ms(self, instance: Instance, source_words: list[str]) -> list[float]:
        if instance.source_words is None:
            raise ValueError(
                "it has no source word times (`source_words`), which the timestamp "
                "serialization needs (the built-in corpus has them)."
            )
        timed = [span.word for span in instance.source_words]
        if timed != source_words:
            raise ValueError(
                f"its timed `source_words` {timed} must be the whitespace words of "
                f"`source_text` {source_words}, but differ."
            )
        return [
            samples_to_ms(span.end_sample, instance.sample_rate) for span in instance.source_words
        ]

    def __call__(self, instance: Instance) -> str:
        """The tagged serialized text of ``instance``.

        Raises:
            ValueError: naming the instance, when it lacks a translation, an alignment or word
                times, or cannot be serialized (see ``simul.serialize.order``).
        """
        source_words = instance.source_text.split()
        self.layout.references(instance)  # raises when a translation is missing
        targets = [
            TargetWords(
                lang=lang,
                words=tuple(instance.target_texts[lang].split()),
                alignment=self._alignment(instance, lang),
            )
            for lang in self.target_langs
        ]
        try:
            if self.mode == "alignment":
                ordered = order_by_alignment(source_words, targets, self.layout)
            else:
                source_end_ms = self._source_end_ms(instance, source_words)
                ordered = order_by_time(
                    source_words,
                    source_end_ms,
                    targets,
                    self.layout,
                    target_lag_ms=self.target_lag_ms,
                )
        except ValueError as error:
            raise ValueError(f"instance {instance.id!r}: {error}") from error
        return serialized_text(ordered, self.layout)


def _languages(text: str, name: str) -> tuple[str, ...]:
    langs = tuple(text.split("+"))
    if not text or any(not lang for lang in langs):
        raise ValueError(
            f"target transform {name!r} must name its languages as LANG or LANG+LANG, "
            f"but gives {text!r}."
        )
    return langs


#: ``(argument after the first ':' or None, alignment tables) -> transform``.
TargetTransformFactory = Callable[[str | None, AlignmentTables | None], TargetTransform]


def _transcript(argument: str | None, alignments: AlignmentTables | None) -> TargetTransform:
    if argument is not None:
        raise ValueError(f"target transform `asr` takes no argument, but is given {argument!r}.")
    return SourceText()


def _translation(argument: str | None, alignments: AlignmentTables | None) -> TargetTransform:
    if not argument or "+" in argument or ":" in argument:
        raise ValueError(
            f"target transform `st` needs one language, e.g. `st:de`, but is given {argument!r}."
        )
    return TargetText(argument)


def _joint(mode: SerializationMode) -> TargetTransformFactory:
    family = f"joint_{mode}"

    def factory(argument: str | None, alignments: AlignmentTables | None) -> TargetTransform:
        name = f"{family}:{argument}"
        if not argument:
            raise ValueError(
                f"target transform `{family}` needs its languages, e.g. `{family}:de` or "
                f"`{family}:de+es`, but is given none."
            )
        langs_text, _, option = argument.partition(":")
        lag_ms = 0.0
        if option:
            match = _LAG.match(option)
            if mode != "timestamp" or match is None:
                raise ValueError(
                    f"target transform {name!r} has an unknown option {option!r}; the names are "
                    f"{', '.join(TARGET_TRANSFORM_NAMES)}."
                )
            lag_ms = float(match.group("value"))
        return JointTarget(
            mode=mode,
            target_langs=_languages(langs_text, name),
            target_lag_ms=lag_ms,
            alignments=alignments,
        )

    return factory


#: Target transform factories by the part of the name before the first ``:``.
TARGET_TRANSFORMS: Registry[TargetTransformFactory] = Registry("target transform")
TARGET_TRANSFORMS.add("asr", _transcript)
TARGET_TRANSFORMS.add("st", _translation)
TARGET_TRANSFORMS.add("joint_alignment", _joint("alignment"))
TARGET_TRANSFORMS.add("joint_timestamp", _joint("timestamp"))


def get_target_transform(
    name: str, *, alignments: AlignmentTables | None = None
) -> TargetTransform:
    """The target transform called ``name`` (see the module doc for the names).

    Args:
        name: e.g. ``"asr"``, ``"st:de"``, ``"joint_alignment:de"``, ``"joint_timestamp:de+es"``.
        alignments: for the joint names, alignments by language and instance id that replace
            ``Instance.alignments`` (e.g. eflomal's, from ``read_alignments``).

    Raises:
        ValueError: an unknown name (the message lists the known ones) or bad arguments.
    """
    family, separator, argument = name.partition(":")
    return TARGET_TRANSFORMS.get(family)(argument if separator else None, alignments)
