"""StreamLAAL: latency and quality of unsegmented (long-form) output, per output stream.

Why: a streaming system run on whole talks (StreamAtt and its kin) writes one hypothesis per
talk, with delays in ms from the talk start; sentence-level metrics do not apply.  StreamLAAL
(Papi, Gaido, Negri, Bentivogli, ACL 2024, "StreamAtt: Direct Streaming Speech-to-Text
Translation with Attention-based Audio History Selection", arXiv:2406.06097; FBK's
``stream_laal.py`` version 2.0) re-segments each talk's hypothesis into the reference segments
and scores every segment as a SimulEval instance:

1. re-segmentation: ``simul.eval.resegment`` (mWERSegmenter's algorithm) splits the talk's
   latency units (words, or characters) into as many segments as the talk has references;
2. re-basing: a unit in segment k with talk-level delay d gets ``max(0, d - offset_k)``, and
   the segment's source length |X| is its duration (both from the MuST-C YAML);
3. scoring: LAAL per segment (``simul.eval.latency``'s batch API, SimulEval's definition, with
   |Y*| the segment reference's length) and its corpus mean over the segments that received
   units (SimulEval skips the others, and so does StreamLAAL), next to BLEU/chrF (or WER/CER on
   a stream named ``asr``) on the re-segmented texts (``simul.eval.quality``).  Every stream of a
   joint model is re-segmented against its own references.

Computation-aware StreamLAAL (``StreamLAAL_CA``).  SimulEval's elapsed time of a unit is its
delay plus the wall clock since the *talk* started, so on a talk the compute cost of every
earlier segment piles up in it.  FBK replaces it, unit by unit through the talk, with the delay
plus only the compute since the previous unit (``SegmentLevelDelayElapsed``)::

    c_1 = e_1
    c_i  = e_i - e_{i-1} + d_{i-1}         if e_i != e_{i-1}
    c_i  = (c'_{i-1} - d'_{i-1}) + d_i     if e_i == e_{i-1}  (one write: copy its cost)
    c'_i = max(0, c_i - offset_k),  d'_i = max(0, d_i - offset_k)  (unit i in segment k)

We follow it to the letter, including that the copied cost comes from the *re-based* values
c'_{i-1} - d'_{i-1}, which differs from c_{i-1} - d_{i-1} only when the previous unit was
written before its segment's audio began (clamped at 0).

Inputs and outputs.  Talks are log lines (``simul.eval.log_io``): a SimulEval run on talk wavs
(``source`` is ``[path, ...]``) or simul's multi-stream log (``source`` is the path); a line is
matched to its talk by the audio file name, as FBK does.  The result is a ``Scores`` whose
corpus table has ``StreamLAAL`` (``StreamLAAL_CA``) where the segment-level table would have
``LAAL`` (``LAAL_CA``), and ``AS-WER``: mwerSegmenter's figure, the re-segmentation's edits per
100 reference units (case as aligned; for ``asr`` it is the WER of the re-segmented text).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np
from tqdm import tqdm

from simul.eval.records import InstanceOutput, StreamOutput
from simul.eval.resegment import ResegmentUnit, resegment_text, split_units
from simul.eval.scoring import Scores, ScoringConfig, score
from simul.eval.talk_references import TalkReferences
from simul.logs import progress_bar_disabled

__all__ = ["StreamScores", "rebase_talk_times", "resegment_talks", "score_stream_laal", "talk_name"]

#: How far a talk's last segment may end after the talk's logged source length, in ms.
_END_TOLERANCE_MS = 1.0


def talk_name(instance: InstanceOutput) -> str:
    """The audio file name of a talk-level log line (``source`` as SimulEval or simul log it)."""
    source = instance.source
    if isinstance(source, list) and source and isinstance(source[0], str):
        source = source[0]
    if not isinstance(source, str) or not source.strip():
        raise ValueError(
            f"{instance.where}: `source` must name the talk's audio file (a path, or SimulEval's "
            f"[path, ...]), but is {instance.source!r} instead."
        )
    return PurePath(source.strip()).name


def rebase_talk_times(
    delays: Sequence[float], elapsed: Sequence[float], offsets_ms: Sequence[float]
) -> tuple[list[float], list[float]]:
    """Re-base a talk's delays to their segments, and correct and re-base its elapsed times.

    See the module docstring for FBK's correction of the elapsed times.

    Args:
        delays: (U,) talk-level delays of the talk's units, ms from the talk start.
        elapsed: (U,) SimulEval's elapsed times of the same units, or empty.
        offsets_ms: (U,) the offset of the segment each unit was re-segmented into.

    Returns:
        (U,) re-based delays, and (U,) corrected re-based elapsed times (empty when ``elapsed``
        is).
    """
    if len(offsets_ms) != len(delays) or (elapsed and len(elapsed) != len(delays)):
        raise ValueError(
            f"`delays`, `elapsed` and `offsets_ms` must have one value per unit, but have "
            f"{len(delays)}, {len(elapsed)} and {len(offsets_ms)} instead."
        )
    stream_delays = [
        max(0.0, delay - offset) for delay, offset in zip(delays, offsets_ms, strict=True)
    ]
    if not elapsed:
        return stream_delays, []
    stream_elapsed: list[float] = []
    for i, (delay, offset) in enumerate(zip(delays, offsets_ms, strict=True)):
        if i == 0:
            corrected = elapsed[0]
        elif elapsed[i] == elapsed[i - 1]:
            corrected = stream_elapsed[i - 1] - stream_delays[i - 1] + delay
        else:
            corrected = elapsed[i] - elapsed[i - 1] + delays[i - 1]
        stream_elapsed.append(max(0.0, corrected - offset))
    return stream_delays, stream_elapsed


def _check_references(references: Sequence[TalkReferences]) -> list[str]:
    """The streams of the references: the same in every segment, whose indices are unique."""
    if not references or not references[0].segments:
        raise ValueError("`references` must hold at least one talk with segments, but holds none.")
    streams = list(references[0].segments[0].references)
    seen: dict[int, str] = {}
    for talk in references:
        if not talk.segments:
            raise ValueError(f"talk {talk.talk} must have at least one reference segment.")
        for segment in talk.segments:
            if list(segment.references) != streams:
                raise ValueError(
                    f"{segment.origin}: the segment's references must be for streams {streams}, "
                    f"but are for {list(segment.references)} instead."
                )
            if segment.index in seen:
                raise ValueError(
                    f"{segment.origin}: segment index {segment.index} is also {seen[segment.index]}'s."
                )
            seen[segment.index] = segment.origin
    return streams


def _check_talks(
    talks: Sequence[InstanceOutput], references: Sequence[TalkReferences]
) -> dict[str, InstanceOutput]:
    """Match log lines to talks by name; every talk needs exactly one line and vice versa."""
    by_name: dict[str, InstanceOutput] = {}
    for instance in talks:
        name = talk_name(instance)
        if name in by_name:
            raise ValueError(f"{instance.where}: talk {name} is also on {by_name[name].where}.")
        by_name[name] = instance
    listed = [talk.talk for talk in references]
    missing = [name for name in listed if name not in by_name]
    if missing:
        raise ValueError(
            f"every talk of the segment list must have a log line, but {len(missing)} have none: "
            f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}."
        )
    unlisted = sorted(set(by_name) - set(listed))
    if unlisted:
        raise ValueError(
            f"every log line must be a talk of the segment list, but {len(unlisted)} are not: "
            f"{', '.join(unlisted[:5])}{' ...' if len(unlisted) > 5 else ''} "
            f"(first: {by_name[unlisted[0]].where})."
        )
    for talk in references:
        instance, last = by_name[talk.talk], talk.segments[-1]
        if instance.source_type != "speech":
            raise ValueError(
                f"{instance.where}: StreamLAAL needs speech input (delays in ms), but it is text."
            )
        if last.offset_ms + last.duration_ms > instance.source_length + _END_TOLERANCE_MS:
            raise ValueError(
                f"{last.origin}: the segment ends at {last.offset_ms + last.duration_ms} ms, after "
                f"the end of talk {talk.talk} ({instance.source_length} ms, {instance.where}): is "
                "this the segment list of this run?"
            )
    return by_name


def resegment_talks(
    talks: Sequence[InstanceOutput],
    references: Sequence[TalkReferences],
    *,
    unit: ResegmentUnit = "word",
    case_sensitive: bool = True,
    mwersegmenter_first_row: bool = True,
    progress: bool = False,
) -> tuple[list[InstanceOutput], dict[str, tuple[int, int]]]:
    """Turn talk-level log lines into segment-level records, every stream of the references.

    Args:
        talks: one record per talk (``read_instances_log`` of a talk-level run).
        references: the talks' reference segments (``read_talk_references``).
        unit: the latency unit of the delays (``word`` or ``char``).
        case_sensitive: see ``simul.eval.resegment.resegment``.
        mwersegmenter_first_row: see ``simul.eval.resegment.resegment``.
        progress: show a progress bar over the talks.

    Returns:
        One record per reference segment, in segment-list order (``index`` = its position in the
        list; ``extra`` gives the talk and offset), with re-based delays and elapsed times; and
        by stream, the re-segmentation's (edits, reference units) summed over the talks.

    Raises:
        ValueError: naming the log line, when talks and log lines do not match one to one, a
            stream has no log output, or its delays do not match its units; naming the segment,
            when segments have references for different streams or share an index.
    """
    streams = _check_references(references)
    by_name = _check_talks(talks, references)
    records: list[InstanceOutput] = []
    edits = {stream: (0, 0) for stream in streams}
    for talk in tqdm(
        references, desc="resegment", unit="talk", disable=progress_bar_disabled(progress)
    ):
        instance = by_name[talk.talk]
        outputs: dict[str, list[StreamOutput]] = {}
        for stream in streams:
            if stream not in instance.streams:
                raise ValueError(
                    f"{instance.where}: stream `{stream}` has references but no output in the log "
                    f"(streams: {', '.join(instance.streams)})."
                )
            output = instance.streams[stream]
            units = split_units(output.prediction, unit)
            if len(units) != len(output.delays):
                raise ValueError(
                    f"{instance.where}: stream `{stream}` has {len(output.delays)} delays but its "
                    f"prediction has {len(units)} {unit} units; was it written with another "
                    "latency unit?"
                )
            texts, split = resegment_text(
                output.prediction,
                [segment.references[stream] for segment in talk.segments],
                unit=unit,
                case_sensitive=case_sensitive,
                mwersegmenter_first_row=mwersegmenter_first_row,
            )
            errors, length = edits[stream]
            edits[stream] = (errors + split.errors, length + split.reference_length)
            sizes = np.diff(split.boundaries)
            offsets = np.repeat([segment.offset_ms for segment in talk.segments], sizes).tolist()
            delays, elapsed = rebase_talk_times(output.delays, output.elapsed, offsets)
            outputs[stream] = [
                StreamOutput(
                    prediction=text,
                    delays=tuple(delays[piece]),
                    elapsed=tuple(elapsed[piece]),
                    reference=segment.references[stream],
                )
                for text, piece, segment in zip(texts, split.slices(), talk.segments, strict=True)
            ]
        for position, segment in enumerate(talk.segments):
            records.append(
                InstanceOutput(
                    index=segment.index,
                    source_type="speech",
                    source_length=segment.duration_ms,
                    streams={stream: outputs[stream][position] for stream in streams},
                    source=talk.talk,
                    extra={"talk": talk.talk, "offset_ms": segment.offset_ms},
                    origin=f"{segment.origin} (talk {talk.talk} on {instance.where})",
                )
            )
    return records, edits


@dataclass(frozen=True)
class StreamScores:
    """StreamLAAL's result: the scores and the segment-level records they were computed on."""

    scores: Scores
    """Corpus table per stream (``StreamLAAL``, ``StreamLAAL_CA``, ``AS-WER``, quality) and per
    segment table (with a ``talk`` column)."""
    segments: list[InstanceOutput]
    """The re-segmented records: a SimulEval log of them scores LAAL = StreamLAAL."""


def score_stream_laal(
    talks: Sequence[InstanceOutput],
    references: Sequence[TalkReferences],
    config: ScoringConfig | None = None,
    *,
    case_sensitive: bool = True,
    mwersegmenter_first_row: bool = True,
    progress: bool = False,
) -> StreamScores:
    """StreamLAAL (and StreamLAAL_CA) with quality, per stream, of talk-level output.

    Args:
        talks: one record per talk.
        references: the talks' reference segments, one text per stream to score.
        config: scoring settings (``latency_unit`` word or char; ``latency_metrics`` is replaced
            by LAAL, the one StreamLAAL defines).
        case_sensitive: see ``simul.eval.resegment.resegment``.
        mwersegmenter_first_row: see ``simul.eval.resegment.resegment``.
        progress: show a progress bar over the talks.

    Raises:
        ValueError: as ``resegment_talks`` and ``simul.eval.scoring.score``, and for a latency
            unit other than word or char.
    """
    config = dataclasses.replace(config or ScoringConfig(), latency_metrics=("LAAL",))
    if config.latency_unit not in ("word", "char"):
        raise ValueError(
            "StreamLAAL's latency unit must be word or char, but is "
            f"{config.latency_unit!r} instead."
        )
    segments, edits = resegment_talks(
        talks,
        references,
        unit=config.latency_unit,
        case_sensitive=case_sensitive,
        mwersegmenter_first_row=mwersegmenter_first_row,
        progress=progress,
    )
    scores = score(segments, config)
    renamed = {"LAAL": "StreamLAAL", "LAAL_CA": "StreamLAAL_CA"}
    corpus = scores.corpus.rename(columns=renamed)
    corpus["AS-WER"] = [
        100 * edits[s][0] / edits[s][1] if edits[s][1] else np.nan for s in corpus.index
    ]
    instances = scores.instances.rename(columns=renamed)
    talk_of = {segment.index: segment.extra["talk"] for segment in segments}
    instances.insert(1, "talk", instances["index"].map(talk_of))
    return StreamScores(
        scores=dataclasses.replace(scores, corpus=corpus, instances=instances), segments=segments
    )
