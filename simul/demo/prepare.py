"""The demo's first stages: the built-in corpus, its SentencePiece vocabulary and its CMVN.

Each stage does its work only when its output is missing, and says ``skip`` in the log otherwise,
so that an interrupted demo resumes where it stopped:

- the corpus (``simul data synth``) is built into ``CORPUS.partial`` and renamed to ``CORPUS``
  once it is complete and has passed the check of ``simul data check`` (every file reopened,
  every segment read): a corpus directory with a ``manifest.json`` is complete.  An existing
  corpus must be the demo's size; its check is run once and recorded (with the SHA-256 of its
  manifest) in the demo's ``corpus.json``;
- the vocabulary (``simul data spm``) and the CMVN statistics (``simul data cmvn``) are written
  atomically, so an existing file is complete.  Their names are the ones the recipes'
  headers give (``experiments/asr_tt_small.yaml``, ``experiments/asr_tt_tiny.yaml``).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simul.data.benchmark import SIZES, build_corpus
from simul.data.check import CheckConfig, check_items, problems_from_messages
from simul.data.corpus_writer import TalkConfig
from simul.data.features.cmvn import compute_cmvn
from simul.data.features.fbank import FbankConfig
from simul.data.readers import read_corpus_split
from simul.data.readers.mustc import read_mustc
from simul.data.tokenizer import SpmConfig, train_sentencepiece
from simul.io import atomic_write_text
from simul.provenance import file_sha256

__all__ = [
    "CMVN_FILE",
    "DEMO_SIZES",
    "DemoSize",
    "prepare_cmvn",
    "prepare_corpus",
    "prepare_vocabulary",
]

logger = logging.getLogger(__name__)

#: The repository root (the recipes live in ``experiments/``).
_REPO_ROOT = Path(__file__).resolve().parents[2]

_SPLITS = ("train", "dev", "test")

#: The CMVN statistics' file name inside the corpus (``simul data cmvn``'s default).
CMVN_FILE = "cmvn.npz"


@dataclass(frozen=True, kw_only=True)
class DemoSize:
    """What one ``--size`` of the demo trains: the recipe and the vocabulary it expects."""

    recipe: Path
    """The training config (``experiments/asr_tt_SIZE.yaml``)."""
    spm_prefix: str
    """File name of the SentencePiece model inside the corpus, without ``.model``."""
    spm: SpmConfig
    """How that vocabulary is trained (on the ``train`` transcripts)."""


#: The demo's sizes; the corpus size of the same name (``simul data synth --size``).
DEMO_SIZES = {
    "tiny": DemoSize(
        recipe=_REPO_ROOT / "experiments" / "asr_tt_tiny.yaml",
        spm_prefix="spm_asr128",
        spm=SpmConfig(vocab_size=128),
    ),
    "small": DemoSize(
        recipe=_REPO_ROOT / "experiments" / "asr_tt_small.yaml",
        spm_prefix="spm_en_bpe128",
        spm=SpmConfig(vocab_size=128, model_type="bpe"),
    ),
}


def _check_manifest(corpus_dir: Path, size: str) -> None:
    """Refuse a corpus that ``simul data synth --size SIZE`` did not build completely."""
    path = corpus_dir / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"corpus manifest {path} cannot be read: {error}") from None
    found = (
        {key: manifest.get(key) for key in ("command", "size")}
        if isinstance(manifest, dict)
        else {}
    )
    expected = {"command": "simul data synth", "size": size}
    if found != expected:
        raise ValueError(
            f"{path} must describe a `simul data synth --size {size}` corpus ({expected}), but "
            f"says {found} instead: give --size of that corpus, or another --corpus-dir."
        )
    missing = [s for s in _SPLITS if s not in manifest.get("splits", {})]
    missing += [
        s for s in _SPLITS if s not in missing and not (corpus_dir / s / "manifest.json").is_file()
    ]
    if missing:
        raise ValueError(
            f"corpus {corpus_dir} must hold the splits {list(_SPLITS)}, but lacks {missing}: "
            "remove it (the demo builds it again), or give another --corpus-dir."
        )


def _check_corpus(corpus_dir: Path, *, progress: bool) -> dict[str, Any]:
    """``simul data check`` of every split; a summary, or a ValueError naming the first problem."""
    messages: list[str] = []
    items = [
        item
        for split in _SPLITS
        for item in read_corpus_split(corpus_dir, "mustc", split, problems=messages)
    ]
    report = check_items(items, CheckConfig(progress=progress))
    problems = [*problems_from_messages(messages), *report.problems]
    if problems:
        first = problems[0]
        raise ValueError(
            f"corpus {corpus_dir} fails its check with {len(problems)} problems, the first "
            f"{first.where}: {first.message} (`simul data check {corpus_dir}` lists them all)."
        )
    return {"num_instances": report.num_instances, "audio_hours": round(report.audio_ms / 3.6e6, 6)}


def prepare_corpus(
    corpus_dir: Path, size: str, *, record: Path, jobs: int = 1, progress: bool = True
) -> tuple[Path, bool]:
    """Make sure ``corpus_dir`` holds the built-in corpus of ``size``, built and checked.

    Args:
        corpus_dir: where the corpus is (or goes).
        size: a corpus size of ``simul data synth`` (``tiny``, ``small``, ``full``).
        record: the demo's ``corpus.json``: which corpus passed the check.
        jobs: synthesis worker processes.
        progress: show progress bars.

    Returns:
        ``corpus_dir``, and whether the stage was skipped (the corpus was there and had passed
        its check).

    Raises:
        ValueError: ``corpus_dir`` holds something else than a complete corpus of ``size``, or
            the corpus fails its check.
    """
    if size not in SIZES:
        raise ValueError(f"`size` must be one of {sorted(SIZES)}, but is {size!r} instead.")
    if corpus_dir.exists() and not corpus_dir.is_dir():
        raise ValueError(f"the corpus directory {corpus_dir} must be a directory, but is a file.")
    manifest = corpus_dir / "manifest.json"
    if manifest.is_file():
        _check_manifest(corpus_dir, size)
        identity = {
            "corpus_dir": str(corpus_dir.resolve()),
            "manifest_sha256": file_sha256(manifest),
        }
        known = json.loads(record.read_text(encoding="utf-8")) if record.is_file() else {}
        if {key: known.get(key) for key in identity} == identity:
            logger.info(
                "corpus: skip (%s is complete and passed its check, %s)", corpus_dir, record
            )
            return corpus_dir, True
        logger.info("corpus: %s exists; checking every file once", corpus_dir)
        summary = _check_corpus(corpus_dir, progress=progress)
    else:
        if corpus_dir.is_dir() and any(corpus_dir.iterdir()):
            raise ValueError(
                f"{corpus_dir} must be a complete corpus (with manifest.json) or empty, but holds "
                "other files: remove it, or give another --corpus-dir."
            )
        partial = corpus_dir.with_name(corpus_dir.name + ".partial")
        logger.info(
            "corpus: building the %r corpus into %s (then renamed %s)", size, partial, corpus_dir
        )
        started = time.perf_counter()
        build_corpus(
            partial, size=size, talk_config=TalkConfig(jobs=jobs), progress=progress, overwrite=True
        )
        summary = _check_corpus(partial, progress=progress)
        if corpus_dir.is_dir():
            corpus_dir.rmdir()  # empty, checked above
        partial.rename(corpus_dir)
        logger.info(
            "corpus: built and checked %s in %.1f s", corpus_dir, time.perf_counter() - started
        )
        identity = {
            "corpus_dir": str(corpus_dir.resolve()),
            "manifest_sha256": file_sha256(manifest),
        }
    atomic_write_text(record, json.dumps({**identity, "check": summary}, indent=2) + "\n")
    logger.info(
        "corpus: %d segments, %.3f h, no problems", summary["num_instances"], summary["audio_hours"]
    )
    return corpus_dir, False


def prepare_vocabulary(corpus_dir: Path, size: DemoSize) -> tuple[Path, bool]:
    """The SentencePiece model ``CORPUS/SPM_PREFIX.model``, trained on the train transcripts if missing.

    Returns:
        The model's path, and whether the stage was skipped (the model was there).
    """
    prefix = corpus_dir / size.spm_prefix
    model = prefix.with_name(prefix.name + ".model")
    if model.is_file():
        logger.info("vocabulary: skip (%s exists)", model)
        return model, True
    transcripts = corpus_dir / "train" / "txt" / "train.en"
    logger.info(
        "vocabulary: training %s (%d pieces, %s) on %s",
        model, size.spm.vocab_size, size.spm.model_type, transcripts,
    )  # fmt: skip
    train_sentencepiece(prefix, size.spm, input_paths=[transcripts])
    return model, False


def prepare_cmvn(corpus_dir: Path, *, progress: bool = True) -> tuple[Path, bool]:
    """The global CMVN statistics ``CORPUS/cmvn.npz`` of the train split, computed if missing.

    Returns:
        The statistics' path, and whether the stage was skipped (the file was there).
    """
    path = corpus_dir / CMVN_FILE
    if path.is_file():
        logger.info("cmvn: skip (%s exists)", path)
        return path, True
    instances = read_mustc(corpus_dir, "train", tgt_langs=())
    logger.info("cmvn: computing %s over %d train utterances", path, len(instances))
    compute_cmvn(instances, FbankConfig(), progress=progress).save(path)
    return path, False
