"""SentencePiece vocabularies: training on a corpus, and a small tokenizer over the model.

Special ids follow fairseq's convention, so fairseq/fairseq2 S2T tooling reads our models as is:
``<s>`` = 0, ``<pad>`` = 1, ``</s>`` = 2, ``<unk>`` = 3, then the reserved tags in the order
given (``<asr>`` = 4, ``<st>`` = 5, ... for serialized joint output), then the learned pieces.

Pad and blank: a transducer's and CTC's *blank* uses the pad id (:attr:`Tokenizer.blank_id` ==
:attr:`Tokenizer.pad_id` == 1).  Neither ever occurs inside a target sequence (padding positions
are masked by the target lengths), so one reserved id serves both and the output layer has no
extra row; :meth:`Tokenizer.encode` never returns it and :meth:`Tokenizer.decode` drops it.

Tags are SentencePiece *user-defined symbols*: always one piece, never split or merged, whatever
the surrounding text, and decoded back to their own text.  :meth:`Tokenizer.encode` adds no BOS
or EOS; a model that needs EOS appends :attr:`Tokenizer.eos_id` itself.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, final

import sentencepiece

__all__ = ["SpmConfig", "Tokenizer", "parse_tags", "train_sentencepiece"]

logger = logging.getLogger(__name__)

BOS_PIECE, PAD_PIECE, EOS_PIECE, UNK_PIECE = "<s>", "<pad>", "</s>", "<unk>"
_SPECIAL_PIECES = (BOS_PIECE, PAD_PIECE, EOS_PIECE, UNK_PIECE)

ModelType = Literal["unigram", "bpe", "char", "word"]
_MODEL_TYPES = ("unigram", "bpe", "char", "word")


@dataclass(frozen=True, kw_only=True)
class SpmConfig:
    """How a SentencePiece model is trained."""

    vocab_size: int = 1000
    """Pieces in the model, the 4 special ids and the tags included."""
    model_type: ModelType = "unigram"
    """Segmentation algorithm: unigram, bpe, char or word."""
    character_coverage: float = 1.0
    """Fraction of characters covered (1.0 for Latin scripts, 0.9995 for CJK)."""
    tags: tuple[str, ...] = ()
    """Reserved symbols kept as single pieces, e.g. ("<asr>", "<st>", "<de>")."""
    normalization_rule_name: str = "nmt_nfkc"
    """SentencePiece normalisation (nmt_nfkc, nfkc, nmt_nfkc_cf, nfkc_cf or identity)."""
    input_sentence_size: int = 0
    """Sentences sampled from the input for training (0: all of them)."""
    num_threads: int = 1
    """Training threads."""
    whitespace_as_suffix: bool = False
    """Mark word *ends* (``hel lo▁``, SentencePiece's ``treat_whitespace_as_suffix``) instead of
    word starts (``▁hel lo``): a streaming model's word is then complete with its last piece, so
    whole-word output does not wait for the next word to begin."""

    def __post_init__(self) -> None:
        if self.model_type not in _MODEL_TYPES:
            raise ValueError(
                f"`model_type` must be one of {_MODEL_TYPES}, but is {self.model_type!r} instead."
            )
        minimum = len(_SPECIAL_PIECES) + len(self.tags) + 1
        if self.vocab_size < minimum:
            raise ValueError(
                f"`vocab_size` must be at least {minimum} (4 special ids, {len(self.tags)} tags, "
                f"one piece), but is {self.vocab_size} instead."
            )
        if not 0.0 < self.character_coverage <= 1.0:
            raise ValueError(
                f"`character_coverage` must be in (0, 1], but is {self.character_coverage} instead."
            )
        for tag in self.tags:
            if not tag or any(character.isspace() for character in tag):
                raise ValueError(
                    f"`tags` must be non-empty and free of whitespace, but hold {tag!r} instead."
                )
            if tag in _SPECIAL_PIECES:
                raise ValueError(
                    f"`tags` must not repeat the special pieces {_SPECIAL_PIECES}, "
                    f"but hold {tag!r}."
                )
        if len(set(self.tags)) != len(self.tags):
            raise ValueError(f"`tags` must be distinct, but are {self.tags} instead.")
        if self.input_sentence_size < 0 or self.num_threads <= 0:
            raise ValueError(
                f"`input_sentence_size` must be >= 0 and `num_threads` > 0, but are "
                f"{self.input_sentence_size} and {self.num_threads} instead."
            )


def parse_tags(text: str) -> tuple[str, ...]:
    """Split a comma-separated tag list (``"<asr>,<st>"``); empty items are ignored."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _trainer_arguments(config: SpmConfig) -> dict[str, object]:
    """The SentencePieceTrainer arguments for ``config`` (fairseq's special ids)."""
    return {
        "vocab_size": config.vocab_size,
        "model_type": config.model_type,
        "character_coverage": config.character_coverage,
        "user_defined_symbols": list(config.tags),
        "normalization_rule_name": config.normalization_rule_name,
        "input_sentence_size": config.input_sentence_size,
        "shuffle_input_sentence": config.input_sentence_size > 0,
        "num_threads": config.num_threads,
        "treat_whitespace_as_suffix": config.whitespace_as_suffix,
        "bos_id": 0,
        "pad_id": 1,
        "eos_id": 2,
        "unk_id": 3,
        "bos_piece": BOS_PIECE,
        "pad_piece": PAD_PIECE,
        "eos_piece": EOS_PIECE,
        "unk_piece": UNK_PIECE,
        "minloglevel": 2,
    }


def train_sentencepiece(
    out_prefix: Path,
    config: SpmConfig,
    *,
    input_paths: Sequence[Path] = (),
    texts: Iterable[str] | None = None,
) -> Tokenizer:
    """Train a SentencePiece model and write ``{out_prefix}.model`` and ``{out_prefix}.vocab``.

    Source, target or joint vocabularies differ only in the text given: the transcripts, the
    translations, or both (several files, or one iterable over both).

    Args:
        out_prefix: path without extension of the files to write.
        config: vocabulary size, model type, coverage, tags.
        input_paths: text files, one sentence per line.
        texts: sentences, instead of files (exactly one of the two is given).

    Returns:
        The trained tokenizer, loaded from the written model.

    Raises:
        FileNotFoundError: an input file does not exist.
        ValueError: no input, or SentencePiece rejects the data (e.g. the vocabulary is larger
            than the text allows).
    """
    out_prefix = Path(out_prefix)
    paths = [Path(path) for path in input_paths]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"SentencePiece input {path} does not exist.")
    if bool(paths) == (texts is not None):
        raise ValueError("exactly one of `input_paths` and `texts` must be given, but it is not.")
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    inputs: dict[str, object]
    if texts is None:
        inputs = {"input": [str(path) for path in paths]}
    else:
        inputs = {"sentence_iterator": iter(texts)}
    # Train into a temporary directory beside the output, then move both files into place:
    # an interrupted run never leaves a half-written model under the final name.
    work_dir = Path(tempfile.mkdtemp(dir=out_prefix.parent, prefix=f".{out_prefix.name}."))
    try:
        try:
            sentencepiece.SentencePieceTrainer.train(
                model_prefix=str(work_dir / "spm"), **inputs, **_trainer_arguments(config)
            )
        except RuntimeError as error:
            raise ValueError(f"SentencePiece training for {out_prefix} failed: {error}") from error
        os.replace(work_dir / "spm.vocab", out_prefix.with_name(out_prefix.name + ".vocab"))
        os.replace(work_dir / "spm.model", out_prefix.with_name(out_prefix.name + ".model"))
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    tokenizer = Tokenizer(out_prefix.with_name(out_prefix.name + ".model"))
    logger.info("trained %s: %d pieces", tokenizer.model_path, tokenizer.vocab_size)
    return tokenizer


def _user_defined_symbols(model_path: Path) -> dict[str, int]:
    """The user-defined pieces of a model and their ids (the processor API does not expose them)."""
    from sentencepiece import sentencepiece_model_pb2

    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(model_path.read_bytes())
    user_defined = sentencepiece_model_pb2.ModelProto.SentencePiece.USER_DEFINED
    return {
        piece.piece: index for index, piece in enumerate(model.pieces) if piece.type == user_defined
    }


@final
class Tokenizer:
    """Text <-> ids over a SentencePiece model (see the module doc for the special ids).

    Example:
        >>> tokenizer = Tokenizer(Path("spm_joint.model"))
        >>> ids = tokenizer.encode("<asr> hello <st> hallo")
        >>> tokenizer.decode(ids)
        '<asr> hello <st> hallo'
    """

    def __init__(self, model_path: Path) -> None:
        """Args:
        model_path: a ``.model`` file written by :func:`train_sentencepiece` (or any
            SentencePiece model with the fairseq special ids).
        """
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise FileNotFoundError(f"SentencePiece model {self.model_path} does not exist.")
        self._processor = sentencepiece.SentencePieceProcessor()
        try:
            self._processor.Load(str(self.model_path))
        except (OSError, RuntimeError) as error:
            raise ValueError(
                f"SentencePiece model {self.model_path} cannot be loaded: {error}"
            ) from error
        expected = {0: BOS_PIECE, 1: PAD_PIECE, 2: EOS_PIECE, 3: UNK_PIECE}
        found = {index: self.id_to_piece(index) for index in expected if index < self.vocab_size}
        if found != expected:
            raise ValueError(
                f"SentencePiece model {self.model_path} must have the special pieces {expected}, "
                f"but has {found} instead."
            )
        self._tags = _user_defined_symbols(self.model_path)

    @property
    def vocab_size(self) -> int:
        """Number of ids, the special ones and the tags included."""
        return self._processor.GetPieceSize()

    @property
    def bos_id(self) -> int:
        """``<s>``."""
        return 0

    @property
    def pad_id(self) -> int:
        """``<pad>``, the value targets are padded with."""
        return 1

    @property
    def blank_id(self) -> int:
        """The transducer/CTC blank: the pad id (never a real target token)."""
        return self.pad_id

    @property
    def eos_id(self) -> int:
        """``</s>``."""
        return 2

    @property
    def unk_id(self) -> int:
        """``<unk>``, for characters outside the coverage."""
        return 3

    @property
    def tags(self) -> dict[str, int]:
        """The reserved tags (user-defined symbols) and their ids, in id order."""
        return dict(self._tags)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``, without BOS or EOS."""
        return self._processor.EncodeAsIds(text)

    def __call__(self, text: str) -> list[int]:
        """Same as :meth:`encode` (so a tokenizer is the pipeline's text -> ids callable)."""
        return self.encode(text)

    def encode_as_pieces(self, text: str) -> list[str]:
        """The pieces of ``text`` (for inspection and latency in SentencePiece units)."""
        return self._processor.EncodeAsPieces(text)

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids``; BOS, EOS and pad/blank are dropped, tags are kept.

        Without spaces at either end: a word-final vocabulary (``whitespace_as_suffix``) decodes
        its last word's ``▁`` as a trailing space, which is no part of the text.
        """
        for index in ids:
            if not 0 <= index < self.vocab_size:
                raise ValueError(
                    f"token ids must be in [0, {self.vocab_size}), but include {index} instead."
                )
        return self._processor.DecodeIds(list(ids)).strip(" ")

    def piece_to_id(self, piece: str) -> int:
        """The id of ``piece`` (the unk id when the model does not know it)."""
        return self._processor.PieceToId(piece)

    def id_to_piece(self, index: int) -> str:
        """The piece of id ``index``."""
        if not 0 <= index < self.vocab_size:
            raise ValueError(f"`index` must be in [0, {self.vocab_size}), but is {index} instead.")
        return self._processor.IdToPiece(index)
