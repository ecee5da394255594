"""The streams of a joint ASR/ST output and the tag token that introduces each.

Naming (one rule, used by serialization, de-serialization, the vocabulary and the scorer):

- the transcript is the stream ``asr``, introduced by the tag ``<asr>``;
- with one target language the translation is the stream ``st`` (tag ``<st>``), whatever the
  language, so that a bilingual joint model's log reads like any ASR+ST log;
- with several target languages (one-to-many) each translation is the stream named by its
  language code (``de``, ``es``; tags ``<de>``, ``<es>``).

A stream's tag is ``"<" + stream + ">"``.  ``StreamLayout.tags`` lists them in stream order
(``<asr>`` first), the order to give ``simul data spm --tags`` so that the ids agree with the
tokenizer's documentation (``<asr>`` = 4, ``<st>`` = 5, ...).  Stream names are also the
scorer's: ``simul.eval.scoring`` scores WER/CER on ``asr`` and BLEU/chrF on every other stream.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from simul.data.instance import Instance

__all__ = ["ASR_STREAM", "ST_STREAM", "StreamLayout", "stream_tag"]

#: The transcript's stream.
ASR_STREAM = "asr"
#: The translation's stream when there is one target language.
ST_STREAM = "st"

_LANG_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


def stream_tag(stream: str) -> str:
    """The tag token that introduces ``stream`` (``"asr"`` -> ``"<asr>"``)."""
    return f"<{stream}>"


@dataclass(frozen=True)
class StreamLayout:
    """The streams of a joint output with ``target_langs`` translations, and their tags.

    Examples:
        >>> StreamLayout(("de",)).tags
        ('<asr>', '<st>')
        >>> StreamLayout(("de", "es")).streams
        ('asr', 'de', 'es')
    """

    target_langs: tuple[str, ...]
    """Target language codes, in the order their words are placed when they tie."""

    def __post_init__(self) -> None:
        langs = self.target_langs
        if not isinstance(langs, tuple) or not langs:
            raise ValueError(
                f"`target_langs` must be a non-empty tuple of language codes, but is {langs!r} instead."
            )
        for lang in langs:
            if not isinstance(lang, str) or not _LANG_CODE.match(lang):
                raise ValueError(
                    "`target_langs` must hold language codes (a letter, then letters, digits, "
                    f"'_' or '-'), but holds {lang!r}."
                )
            if lang in (ASR_STREAM, ST_STREAM):
                raise ValueError(
                    f"`target_langs` must not hold the stream names {ASR_STREAM!r} or "
                    f"{ST_STREAM!r}, but holds {lang!r}."
                )
        if len(set(langs)) != len(langs):
            raise ValueError(f"`target_langs` must be distinct, but are {langs} instead.")

    @property
    def streams(self) -> tuple[str, ...]:
        """Stream names, ``asr`` first, then the targets in ``target_langs`` order."""
        return (ASR_STREAM, *(self.target_stream(lang) for lang in self.target_langs))

    @property
    def tags(self) -> tuple[str, ...]:
        """Tag tokens in stream order (the user-defined symbols of a joint vocabulary)."""
        return tuple(stream_tag(stream) for stream in self.streams)

    def target_stream(self, lang: str) -> str:
        """The stream of target language ``lang``: ``st`` with one target, else ``lang``."""
        if lang not in self.target_langs:
            raise ValueError(
                f"`lang` must be one of the target languages {self.target_langs}, but is {lang!r} instead."
            )
        return ST_STREAM if len(self.target_langs) == 1 else lang

    def tag(self, stream: str) -> str:
        """The tag of ``stream``, which must be one of :attr:`streams`."""
        if stream not in self.streams:
            raise ValueError(f"`stream` must be one of {self.streams}, but is {stream!r} instead.")
        return stream_tag(stream)

    def stream_of_tag(self, token: str) -> str | None:
        """The stream that ``token`` switches to, or ``None`` when it is not one of the tags."""
        for stream in self.streams:
            if token == stream_tag(stream):
                return stream
        return None

    def references(self, instance: Instance) -> Mapping[str, str]:
        """Each stream's reference text in ``instance``: the transcript and the translations.

        Raises:
            ValueError: the instance lacks a translation into one of the target languages.
        """
        missing = [lang for lang in self.target_langs if lang not in instance.target_texts]
        if missing:
            raise ValueError(
                f"instance {instance.id!r} must have translations into {', '.join(self.target_langs)}, "
                f"but lacks {', '.join(missing)} (it has {', '.join(instance.target_texts) or 'none'})."
            )
        references = {ASR_STREAM: instance.source_text}
        for lang in self.target_langs:
            references[self.target_stream(lang)] = instance.target_texts[lang]
        return references
