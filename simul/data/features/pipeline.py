"""Training batches through fairseq2's data pipeline: audio to padded fbank and token batches.

The stages, in order (each one a fairseq2 ``DataPipelineBuilder`` step, run by fairseq2n's C++
threads):

1. ``read_sequence`` over one light example per instance (id, index, target text);
2. ``shuffle`` with a seed derived from ``(seed, epoch)`` (the whole list: examples are small
   until their audio is read), then ``shard`` by rank so DDP ranks see disjoint equal-size parts;
3. ``map``: read the segment, resample to the feature rate, fbank, global CMVN
   (:func:`load_waveform` and :class:`FbankExtractor`, the same code as offline and streaming
   features), ``num_parallel_calls`` at a time, in order;
4. ``map``: tokenize the target text;
5. ``bucket_by_length`` on the frame count: batches of similar lengths whose padded size
   ``B * T`` stays within ``max_frames_per_batch``;
6. ``Collater`` with a pad value per column (features 0.0, which is the corpus mean after CMVN;
   targets the tokenizer's pad id), then ``prefetch``.

Utterances with fewer than one frame or more than ``max_frames_per_utterance`` frames are
dropped before any audio is read (their lengths are known from the manifest), with a warning
that counts them.  The order of batches is a function of ``(seed, epoch, rank, world_size)``
only.  With ``world_size > 1`` the ranks get the same number of utterances (the last
``len % world_size`` of the shuffled list are dropped), but bucketing may still give them different
numbers of batches: a DDP loop must stop all ranks when the first one runs out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from simul._fairseq2 import import_fairseq2
from simul.data.features.audio import load_waveform, resampled_num_samples
from simul.data.features.cmvn import Cmvn
from simul.data.features.fbank import FbankConfig, FbankExtractor
from simul.data.instance import Instance

__all__ = [
    "BatchConfig",
    "FeatureBatch",
    "build_batch_pipeline",
    "source_text",
    "translation_text",
    "utterance_num_frames",
]

logger = logging.getLogger(__name__)

# Features are padded with 0.0: after CMVN that is the corpus mean, the least surprising value
# for a model that (wrongly) looks at padding.
FEATURE_PAD_VALUE = 0


@dataclass(frozen=True, kw_only=True)
class BatchConfig:
    """How utterances are grouped into training batches."""

    max_frames_per_batch: int = 40_000
    """Upper bound on padded fbank frames per batch, B * T (a multiple of the next field)."""
    max_frames_per_utterance: int = 4_000
    """Longer utterances are dropped, in fbank frames (4,000 frames = 40 s at 10 ms)."""
    shuffle: bool = True
    """Shuffle utterances (before bucketing) with a seed derived from ``seed`` and the epoch."""
    seed: int = 0
    """Base seed of the shuffle."""
    num_parallel_calls: int = 2
    """Utterances read and featurised concurrently."""
    num_prefetch: int = 4
    """Batches prepared ahead of the consumer."""

    def __post_init__(self) -> None:
        if self.max_frames_per_utterance <= 0:
            raise ValueError(
                f"`max_frames_per_utterance` must be > 0, "
                f"but is {self.max_frames_per_utterance} instead."
            )
        if (
            self.max_frames_per_batch < self.max_frames_per_utterance
            or self.max_frames_per_batch % self.max_frames_per_utterance != 0
        ):
            raise ValueError(
                f"`max_frames_per_batch` must be a multiple of `max_frames_per_utterance` "
                f"({self.max_frames_per_utterance}; fairseq2's bucket sizes need it), "
                f"but is {self.max_frames_per_batch} instead."
            )
        if self.num_parallel_calls <= 0 or self.num_prefetch < 0:
            raise ValueError(
                f"`num_parallel_calls` must be > 0 and `num_prefetch` >= 0, but are "
                f"{self.num_parallel_calls} and {self.num_prefetch} instead."
            )


@dataclass(frozen=True, eq=False)
class FeatureBatch:
    """One padded training batch.

    B: batch size; T: longest utterance in frames; F: mel bins; U: longest target in tokens.

    Attributes:
        ids: the B instance ids, in batch order.
        features: (B, T, F) float32 fbank after CMVN, padded with 0.0.
        feature_lengths: (B,) int64 frames per utterance.
        targets: (B, U) int64 token ids, padded with the pad id.
        target_lengths: (B,) int64 tokens per utterance.
    """

    ids: tuple[str, ...]
    features: torch.Tensor
    feature_lengths: torch.Tensor
    targets: torch.Tensor
    target_lengths: torch.Tensor

    @property
    def batch_size(self) -> int:
        """B."""
        return len(self.ids)

    def to(self, device: torch.device | str, *, non_blocking: bool = False) -> FeatureBatch:
        """The batch with every tensor on ``device``."""
        return FeatureBatch(
            ids=self.ids,
            features=self.features.to(device, non_blocking=non_blocking),
            feature_lengths=self.feature_lengths.to(device, non_blocking=non_blocking),
            targets=self.targets.to(device, non_blocking=non_blocking),
            target_lengths=self.target_lengths.to(device, non_blocking=non_blocking),
        )


def source_text(instance: Instance) -> str:
    """The transcript: the target text of ASR training."""
    return instance.source_text


def translation_text(lang: str) -> Callable[[Instance], str]:
    """A target-text function picking the translation into ``lang`` (ST training)."""

    def text(instance: Instance) -> str:
        if lang not in instance.target_texts:
            raise ValueError(
                f"instance {instance.id!r} must have a translation into {lang!r}, but has only "
                f"{sorted(instance.target_texts)} instead."
            )
        return instance.target_texts[lang]

    return text


def utterance_num_frames(instance: Instance, fbank_config: FbankConfig) -> int:
    """Fbank frames of an instance after resampling, from its manifest alone (no audio read)."""
    num_samples = resampled_num_samples(
        instance.num_samples, instance.sample_rate, fbank_config.sample_rate
    )
    return fbank_config.num_frames(num_samples)


def _epoch_seed(seed: int, epoch: int) -> int:
    """A shuffle seed for one epoch; distinct (seed, epoch) pairs give unrelated seeds."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def _to_batch(collated: dict[str, Any]) -> FeatureBatch:
    """fairseq2's collated dict -> :class:`FeatureBatch`."""
    features = collated["features"]
    targets = collated["targets"]
    return FeatureBatch(
        ids=tuple(collated["id"]),
        features=features["seqs"],
        feature_lengths=torch.as_tensor(features["seq_lens"], dtype=torch.int64),
        targets=targets["seqs"].to(torch.int64),
        target_lengths=torch.as_tensor(targets["seq_lens"], dtype=torch.int64),
    )


def build_batch_pipeline(
    instances: Sequence[Instance],
    tokenizer: Callable[[str], Sequence[int]],
    *,
    fbank_config: FbankConfig,
    cmvn: Cmvn | None,
    config: BatchConfig,
    pad_id: int,
    target_text: Callable[[Instance], str] = source_text,
    epoch: int = 0,
    rank: int = 0,
    world_size: int = 1,
) -> Iterator[FeatureBatch]:
    """Padded, length-bucketed training batches of one epoch (see the module doc for the stages).

    Args:
        instances: the utterances of the split.
        tokenizer: text -> token ids (e.g. ``Tokenizer.encode``); add EOS inside it if the model
            needs one.
        fbank_config: the feature settings (the CMVN file's, when ``cmvn`` is given).
        cmvn: global normalisation, or ``None`` for raw log-mel features.
        config: batch sizes, shuffle seed, parallelism.
        pad_id: the value padding ``targets`` (the tokenizer's pad id).
        target_text: which text of an instance is the target (:func:`source_text`, the default,
            for ASR; :func:`translation_text` for ST; a serializer for joint output).
        epoch: changes the shuffle from one epoch to the next.
        rank: this process's rank in ``[0, world_size)``.
        world_size: number of data-parallel processes.

    Returns:
        An iterator over :class:`FeatureBatch`; building it reads no audio yet.

    Raises:
        ValueError: bad arguments, or (while iterating) an unreadable segment, naming the instance.
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"`rank` must be in [0, world_size={world_size}), but is {rank} instead.")
    if cmvn is not None and cmvn.fbank_config != fbank_config:
        raise ValueError(
            f"`cmvn` must belong to the fbank settings {fbank_config.to_dict()}, "
            f"but belongs to {cmvn.fbank_config.to_dict()} instead."
        )
    examples = _select_examples(instances, fbank_config, config, target_text)
    if len(examples) < world_size:
        raise ValueError(
            f"`instances` must leave at least one utterance per rank ({world_size}) after "
            f"length filtering, but leave {len(examples)} instead."
        )
    data_pipeline = import_fairseq2("fairseq2.data.data_pipeline")
    from fairseq2.data import CollateOptionsOverride, Collater, create_bucket_sizes

    extractor = FbankExtractor(fbank_config, cmvn)

    def read_features(example: dict[str, Any]) -> dict[str, Any]:
        instance = instances[example["index"]]
        try:
            features = extractor(load_waveform(instance, fbank_config.sample_rate))
        except (ValueError, FileNotFoundError) as error:
            raise type(error)(f"instance {instance.id!r}: {error}") from error
        return {"id": example["id"], "features": features, "targets": example["text"]}

    def tokenize(text: str) -> torch.Tensor:
        return torch.tensor(list(tokenizer(text)), dtype=torch.int64)

    builder = data_pipeline.read_sequence(examples)
    if config.shuffle:
        builder = builder.shuffle(0, seed=_epoch_seed(config.seed, epoch))
    if world_size > 1:
        builder = builder.shard(rank, world_size)
    builder = builder.map(read_features, num_parallel_calls=config.num_parallel_calls)
    builder = builder.map(tokenize, selector="targets")
    bucket_sizes = create_bucket_sizes(
        max_num_elements=config.max_frames_per_batch, max_seq_len=config.max_frames_per_utterance
    )
    builder = builder.bucket_by_length(bucket_sizes, selector="features", drop_remainder=False)
    collater = Collater(
        pad_value=pad_id,
        overrides=[CollateOptionsOverride("features", pad_value=FEATURE_PAD_VALUE)],
    )
    builder = builder.map(collater)
    if config.num_prefetch > 0:
        builder = builder.prefetch(config.num_prefetch)
    return _iterate(builder.and_return())


def _select_examples(
    instances: Sequence[Instance],
    fbank_config: FbankConfig,
    config: BatchConfig,
    target_text: Callable[[Instance], str],
) -> list[dict[str, Any]]:
    """One light example per usable instance; utterances too short or too long are dropped."""
    examples = []
    skipped = 0
    for index, instance in enumerate(instances):
        num_frames = utterance_num_frames(instance, fbank_config)
        if not 1 <= num_frames <= config.max_frames_per_utterance:
            skipped += 1
            continue
        examples.append({"id": instance.id, "index": index, "text": target_text(instance)})
    if skipped:
        logger.warning(
            "dropped %d of %d utterances with no frame or more than %d frames",
            skipped,
            len(instances),
            config.max_frames_per_utterance,
        )
    return examples


def _iterate(pipeline: Any) -> Iterator[FeatureBatch]:
    """Yield typed batches; a failure inside a stage surfaces as its own error, not fairseq2's."""
    from fairseq2.data.data_pipeline import DataPipelineError

    try:
        for collated in pipeline:
            yield _to_batch(collated)
    except DataPipelineError as error:
        cause = error.__cause__
        if isinstance(cause, (ValueError, FileNotFoundError)):
            raise type(cause)(str(cause)) from error
        raise
