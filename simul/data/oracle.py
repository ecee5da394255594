"""Oracle latency: when an ideal simultaneous system could emit each target word.

Why: every latency-quality curve needs a floor.  A system that knows the gold word alignments
and when each source word ends in the audio can write a target word as soon as the last source
word it translates has been heard, and not earlier without guessing.  Scoring those delays
with the harness (AL, LAAL, DAL, ...) gives the lower bound the curves are drawn against; a
German verb-final sentence shows how much of the latency is forced by word order alone.

Definition, for target word ``t`` of language ``lang``:

* ``raw(t)`` = end time (ms from the instance start) of the last source word aligned to ``t``,
  i.e. ``max(end_ms(s) for (s, t) in alignments)``;
* a target word with no alignment inherits ``raw(t - 1)``, and ``0`` when it is the first word
  (nothing to wait for: it could be emitted at once, e.g. an article);
* delays are made non-decreasing, ``delay(t) = max(raw(0), ..., raw(t))``: a real system emits in
  order, so a word cannot leave before the words ahead of it.

The transcript has its oracle too (:func:`transcript_oracle_outputs`): each source word is due
when it ends, the floor of a streaming recogniser that never guesses a word before hearing it.

**At a segment size** (``segment_ms``): a system that reads the source in segments of ``S`` ms can
write only when a segment has arrived, so the floor of its curve is the oracle with every delay
rounded up to the end of the segment that completes it, ``min(S * ceil(delay / S), |X|)`` (the last
segment ends with the source).  Both oracles are worth drawing: the exact one is what the word
order forces, the segment one what the word order and the segment size force together; a
policy's distance to the latter is its own.
"""

from __future__ import annotations

from collections.abc import Sequence

from simul.data.instance import Instance, samples_to_ms
from simul.eval.records import InstanceOutput, StreamOutput

__all__ = ["oracle_delays_ms", "oracle_outputs", "segment_delays_ms", "transcript_oracle_outputs"]


def segment_delays_ms(
    delays_ms: Sequence[float], segment_ms: int, source_length_ms: float
) -> tuple[float, ...]:
    """Delays rounded up to the end of the ``segment_ms`` segment that completes each one.

    A delay ``d`` becomes ``min(S * ceil(d / S), |X|)``: the audio a system reading ``S`` ms
    segments has consumed when it could first write the word (see the module doc).

    Examples:
        >>> segment_delays_ms([0.0, 310.0, 320.0, 330.0, 990.0], 320, 1000.0)
        (0.0, 320.0, 320.0, 640.0, 1000.0)
    """
    if isinstance(segment_ms, bool) or not isinstance(segment_ms, int) or segment_ms <= 0:
        raise ValueError(f"`segment_ms` must be an int > 0, but is {segment_ms!r} instead.")
    rounded = []
    for delay in delays_ms:
        segments = -(-delay // segment_ms)  # ceil, exact for whole-ms and fractional delays
        rounded.append(min(float(segments * segment_ms), float(source_length_ms)))
    return tuple(rounded)


def oracle_delays_ms(instance: Instance, lang: str) -> list[float]:
    """The oracle delay of each whitespace word of ``instance.target_texts[lang]``, in ms.

    Args:
        instance: needs ``source_words`` (gold word times) and ``alignments[lang]``.
        lang: the target language.

    Returns:
        One delay per target word, non-decreasing, in ms from the instance start.

    Raises:
        ValueError: the instance lacks the translation, word times or alignments, an alignment
            index is out of range, or a source word ends after the instance.
    """
    if lang not in instance.target_texts:
        raise ValueError(
            f"instance {instance.id!r} must have a {lang} translation, but has only "
            f"{sorted(instance.target_texts)} instead."
        )
    if instance.source_words is None:
        raise ValueError(
            f"instance {instance.id!r} must have gold source word times, but has none."
        )
    if not instance.alignments or lang not in instance.alignments:
        raise ValueError(
            f"instance {instance.id!r} must have gold {lang} alignments, but has none."
        )
    words = instance.source_words
    num_target = len(instance.target_texts[lang].split())
    for word in words:
        if word.end_sample > instance.num_samples:
            raise ValueError(
                f"instance {instance.id!r}: source word {word.word!r} must end inside the instance "
                f"({instance.num_samples} samples), but ends at sample {word.end_sample} instead."
            )
    last_source_end: list[int | None] = [None] * num_target
    for source_index, target_index in instance.alignments[lang]:
        if not (0 <= source_index < len(words) and 0 <= target_index < num_target):
            raise ValueError(
                f"instance {instance.id!r}: {lang} alignment pair ({source_index}, {target_index}) "
                f"must index {len(words)} source and {num_target} target words, but does not."
            )
        end = words[source_index].end_sample
        current = last_source_end[target_index]
        last_source_end[target_index] = end if current is None else max(current, end)
    delays = []
    raw_ms = 0.0
    running_ms = 0.0
    for end_sample in last_source_end:
        if end_sample is not None:
            raw_ms = samples_to_ms(end_sample, instance.sample_rate)
        running_ms = max(running_ms, raw_ms)
        delays.append(running_ms)
    return delays


def oracle_outputs(
    instances: Sequence[Instance], lang: str, *, segment_ms: int | None = None
) -> list[InstanceOutput]:
    """The oracle's records for the scorer: one stream named ``lang`` per instance.

    The stream is named by its language code (not ``"st"``) so that several target languages of
    one corpus can sit side by side; the prediction is the reference itself (BLEU 100: only the
    latency columns mean anything), ``source_length`` is the instance duration in ms, and no
    wall-clock times are recorded (``elapsed = ()``).

    Args:
        instances: instances with word times and ``lang`` alignments, in corpus order.
        lang: the target language.
        segment_ms: the oracle of a system reading segments of this size (see the module doc);
            ``None``: the exact word ends.

    Returns:
        One ``InstanceOutput`` per instance, ``index`` its position in ``instances``.
    """
    outputs = []
    for index, instance in enumerate(instances):
        text = instance.target_texts.get(lang, "")
        delays = oracle_delays_ms(instance, lang)
        if segment_ms is not None:
            delays = segment_delays_ms(delays, segment_ms, instance.duration_ms)
        outputs.append(
            InstanceOutput(
                index=index,
                source_type="speech",
                source_length=instance.duration_ms,
                streams={
                    lang: StreamOutput(
                        prediction=text, delays=tuple(delays), elapsed=(), reference=text
                    )
                },
                source=str(instance.audio_path),
                extra={"id": instance.id},
                origin=f"oracle {instance.id}",
            )
        )
    return outputs


def transcript_oracle_outputs(
    instances: Sequence[Instance], *, segment_ms: int | None = None
) -> list[InstanceOutput]:
    """The transcript's oracle: each source word written when it ends, as stream ``asr``.

    The floor of a streaming recogniser that never guesses a word before hearing all of it, the
    ASR counterpart of :func:`oracle_outputs`.

    Args:
        instances: instances with gold ``source_words`` (times in samples), in corpus order.
        segment_ms: the oracle of a system reading segments of this size; ``None``: exact.

    Returns:
        One ``InstanceOutput`` per instance with the transcript as prediction and reference.

    Raises:
        ValueError: an instance lacks word times, or they are not its transcript's words.
    """
    outputs = []
    for index, instance in enumerate(instances):
        if instance.source_words is None:
            raise ValueError(
                f"instance {instance.id!r} must have gold source word times (a corpus built by "
                "`simul data synth`), but has none."
            )
        words = [span.word for span in instance.source_words]
        if words != instance.source_text.split():
            raise ValueError(
                f"instance {instance.id!r}: its timed words {words} must be the words of its "
                f"transcript {instance.source_text!r}, but differ."
            )
        delays = tuple(
            samples_to_ms(span.end_sample, instance.sample_rate) for span in instance.source_words
        )
        if segment_ms is not None:
            delays = segment_delays_ms(delays, segment_ms, instance.duration_ms)
        stream = StreamOutput(
            prediction=instance.source_text, delays=delays, elapsed=(),
            reference=instance.source_text,
        )  # fmt: skip
        outputs.append(
            InstanceOutput(
                index=index,
                source_type="speech",
                source_length=instance.duration_ms,
                streams={"asr": stream},
                source=str(instance.audio_path),
                extra={"id": instance.id},
                origin=f"oracle {instance.id}",
            )
        )
    return outputs
