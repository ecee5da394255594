"""The data side of a training run: splits, vocabulary, features, and the stream of batches.

Batches come from :func:`simul.data.features.pipeline.build_batch_pipeline` (fairseq2's data
pipeline), one epoch at a time; their order is a function of ``(seed, epoch, rank,
world_size)`` only.  :func:`training_batches` chains epochs into one stream of micro-batches that
knows its position ``(epoch, batches consumed in that epoch)``: a checkpoint records it, and a
resumed run rebuilds the same epoch and skips that many batches, so it sees exactly the batches
an uninterrupted run would have seen (skipped batches are read and featurised again, which
costs at most one epoch of feature extraction, not of training).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from simul.data.features.cmvn import Cmvn
from simul.data.features.fbank import FbankConfig
from simul.data.features.pipeline import (
    BatchConfig,
    FeatureBatch,
    build_batch_pipeline,
    utterance_num_frames,
)
from simul.data.instance import Instance
from simul.data.readers.corpus_dir import detect_format, read_corpus_split
from simul.data.tokenizer import Tokenizer
from simul.families.base import Family
from simul.serialize import (
    JointTarget,
    SerializedTextEncoder,
    TargetTransform,
    get_target_transform,
    read_alignments,
)
from simul.train.config import DataSection
from simul.train.distributed import DistributedContext

__all__ = [
    "BatchPosition",
    "TrainingData",
    "evaluation_batches",
    "load_training_data",
    "training_batches",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class TrainingData:
    """What a run reads, loaded once.

    Attributes:
        train: training utterances.
        valid: validation utterances (at most ``max_valid_utterances``).
        test: test utterances, or ``None`` when no test split is configured.
        tokenizer: the target vocabulary.
        fbank_config: feature settings (the CMVN file's when there is one).
        cmvn: global normalisation, or ``None``.
        target: the ``Instance -> str`` target text (``simul.serialize.get_target_transform``).
        encode_text: target text -> token ids (tag-aware for joint targets).
    """

    train: list[Instance]
    valid: list[Instance]
    test: list[Instance] | None
    tokenizer: Tokenizer
    fbank_config: FbankConfig
    cmvn: Cmvn | None
    target: TargetTransform
    encode_text: Callable[[str], list[int]]


def _read_split(section: DataSection, split: str) -> list[Instance]:
    root = Path(section.corpus_dir)
    corpus_format = section.corpus_format or detect_format(root)
    items = read_corpus_split(
        root,
        corpus_format,
        split,
        src_lang=section.src_lang,
        tgt_langs=list(section.tgt_langs) or None,
    )
    if not items:
        raise ValueError(f"split {split!r} of {root} holds no utterance.")
    return [item.instance for item in items]


def load_training_data(section: DataSection, *, with_test: bool = True) -> TrainingData:
    """Read the splits, the tokenizer and the CMVN statistics a data section names."""
    tokenizer = Tokenizer(Path(section.spm_model))
    cmvn = None
    fbank_config = FbankConfig(num_mel_bins=section.num_mel_bins)
    if section.cmvn is not None:
        cmvn = Cmvn.load(Path(section.cmvn))
        fbank_config = cmvn.fbank_config
    train = _read_split(section, section.train_split)
    valid = _read_split(section, section.valid_split)
    if section.max_valid_utterances is not None:
        valid = valid[: section.max_valid_utterances]
    test = None
    if with_test and section.test_split is not None:
        test = _read_split(section, section.test_split)
    alignments = (
        read_alignments([Path(p) for p in section.alignments]) if section.alignments else None
    )
    target = get_target_transform(section.target, alignments=alignments)
    encode_text: Callable[[str], list[int]] = tokenizer.encode
    if isinstance(target, JointTarget):
        encode_text = SerializedTextEncoder(tokenizer, target.layout)
    for instance in train[:1] + valid[:1]:
        target(instance)  # a missing translation fails now, not in a pipeline thread
    logger.info(
        "data: %d train, %d valid, %s test utterances; %d tokens; target %s",
        len(train), len(valid), "no" if test is None else len(test), tokenizer.vocab_size,
        section.target,
    )  # fmt: skip
    return TrainingData(
        train=train, valid=valid, test=test, tokenizer=tokenizer, fbank_config=fbank_config,
        cmvn=cmvn, target=target, encode_text=encode_text,
    )  # fmt: skip


def _encoder(data: TrainingData, family: Family) -> Callable[[str], list[int]]:
    eos_id = data.tokenizer.eos_id

    def encode(text: str) -> list[int]:
        return family.target_ids(data.encode_text(text), eos_id=eos_id)

    return encode


@dataclass(frozen=True)
class BatchPosition:
    """Where the stream of training batches stands.

    Attributes:
        epoch: the epoch being read.
        batches_done: batches of that epoch already consumed (on this rank).
    """

    epoch: int = 0
    batches_done: int = 0


def training_batches(
    data: TrainingData,
    section: DataSection,
    family: Family,
    context: DistributedContext,
    *,
    seed: int,
    start: BatchPosition,
    max_epochs: int | None,
) -> Iterator[tuple[BatchPosition, FeatureBatch]]:
    """Training micro-batches from ``start`` on, epoch after epoch, with the position after each.

    Every call of ``next`` is a collective when ``world_size > 1``: ranks agree that each has a
    batch, and all move to the next epoch as soon as one has run out (bucketing may give ranks
    different numbers of batches), so DDP never waits for a rank that has nothing to send.
    """
    config = BatchConfig(
        max_frames_per_batch=section.max_frames_per_batch,
        max_frames_per_utterance=section.max_frames_per_utterance,
        shuffle=True,
        seed=seed,
        num_parallel_calls=section.num_parallel_calls,
        num_prefetch=section.num_prefetch,
    )
    encode = _encoder(data, family)
    epoch, skip = start.epoch, start.batches_done
    while max_epochs is None or epoch < max_epochs:
        batches = build_batch_pipeline(
            data.train,
            encode,
            fbank_config=data.fbank_config,
            cmvn=data.cmvn,
            config=config,
            pad_id=data.tokenizer.pad_id,
            target_text=data.target,
            epoch=epoch,
            rank=context.rank,
            world_size=context.world_size,
        )
        done = 0
        while True:
            batch = next(batches, None)
            if not context.all_true(batch is not None):
                break
            done += 1
            if done > skip:
                yield BatchPosition(epoch=epoch, batches_done=done), batch
        if done == 0:
            raise ValueError(
                f"epoch {epoch} of the training data has no batch on rank {context.rank}."
            )
        if done < skip:
            raise ValueError(
                f"epoch {epoch} has {done} batches, but the run must resume after batch {skip}: "
                "the training data or batch settings changed since the checkpoint."
            )
        epoch, skip = epoch + 1, 0


def evaluation_batches(
    instances: Sequence[Instance],
    data: TrainingData,
    section: DataSection,
    family: Family,
) -> Iterator[FeatureBatch]:
    """Every utterance of ``instances`` once, unshuffled, in batches of similar lengths."""
    longest = max(utterance_num_frames(instance, data.fbank_config) for instance in instances)
    longest = max(longest, 1)
    per_batch = max(1, section.max_frames_per_batch // longest)
    config = BatchConfig(
        max_frames_per_batch=per_batch * longest,
        max_frames_per_utterance=longest,
        shuffle=False,
        num_parallel_calls=section.num_parallel_calls,
        num_prefetch=section.num_prefetch,
    )
    return build_batch_pipeline(
        instances,
        _encoder(data, family),
        fbank_config=data.fbank_config,
        cmvn=data.cmvn,
        config=config,
        pad_id=data.tokenizer.pad_id,
        target_text=data.target,
    )
