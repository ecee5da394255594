"""One directory, one format: find the splits and languages of a corpus on disk and read them.

Why: ``simul data check DIR`` (and any tool that takes a corpus directory) should need no more
than the directory.  Each format has a fixed layout (see the reader modules); this module knows
where each layout keeps its splits and languages:

=========  ====================================================  =============================
format     split ``S`` is                                        target languages
=========  ====================================================  =============================
mustc      ``DIR/S/txt/S.yaml``                                  ``DIR/S/txt/S.{lang}`` files
covost     ``DIR/covost_v2.{src}_{tgt}.S.tsv``                   ``{tgt}`` in the file name
s2t        ``DIR/S.tsv`` (e.g. ``tst-COMMON_st``)                the ``tgt_lang`` column
simuleval  ``DIR/S.wav_list``                                    ``DIR/S.{lang}`` files
sphinx     ``DIR/S.fileids`` + ``DIR/S.transcription``;          none (speech recognition)
           ``DIR/fileids`` + ``DIR/transcription`` is ``test``
=========  ====================================================  =============================
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, get_args

from simul.data.readers._common import CorpusItem
from simul.data.readers.covost import read_covost_items
from simul.data.readers.fairseq_s2t import read_fairseq_s2t_items
from simul.data.readers.mustc import read_mustc_items
from simul.data.readers.simuleval_lists import read_simuleval_lists_items
from simul.data.readers.sphinx import read_sphinx_items, sphinx_splits

__all__ = ["CORPUS_FORMATS", "CorpusFormat", "detect_format", "find_splits", "read_corpus_split"]

CorpusFormat = Literal["mustc", "covost", "s2t", "simuleval", "sphinx"]
#: The formats a corpus directory can have.
CORPUS_FORMATS: tuple[str, ...] = get_args(CorpusFormat)

_COVOST_NAME = re.compile(r"^covost_v2\.([^_.]+)_([^_.]+)\.([^.]+)\.tsv$")
_NOT_LANGS = {"yaml", "jsonl", "wav_list", "tsv"}


def find_splits(root: Path, corpus_format: CorpusFormat) -> list[str]:
    """The splits of a ``corpus_format`` corpus in ``root``, sorted by name."""
    root = Path(root)
    if corpus_format == "mustc":
        found = [d.name for d in root.iterdir() if (d / "txt" / f"{d.name}.yaml").is_file()]
    elif corpus_format == "covost":
        found = [
            m.group(3) for p in root.glob("covost_v2.*.tsv") if (m := _COVOST_NAME.match(p.name))
        ]
    elif corpus_format == "s2t":
        found = [p.stem for p in root.glob("*.tsv") if not _COVOST_NAME.match(p.name)]
    elif corpus_format == "simuleval":
        found = [p.stem for p in root.glob("*.wav_list")]
    elif corpus_format == "sphinx":
        found = sphinx_splits(root)
    else:
        raise ValueError(
            f"`corpus_format` must be one of {CORPUS_FORMATS}, but is {corpus_format!r} instead."
        )
    return sorted(set(found))


def detect_format(root: Path) -> CorpusFormat:
    """Guess a directory's format from its layout (MuST-C, then SimulEval, CoVoST 2, S2T, Sphinx)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"corpus directory {root} does not exist.")
    for corpus_format in ("mustc", "simuleval", "covost", "s2t", "sphinx"):
        if find_splits(root, corpus_format):
            return corpus_format
    raise ValueError(
        f"{root} has no corpus in a known layout: expected SPLIT/txt/SPLIT.yaml (mustc), "
        "SPLIT.wav_list (simuleval), covost_v2.SRC_TGT.SPLIT.tsv (covost), SPLIT.tsv (s2t) or "
        "fileids + transcription (sphinx)."
    )


def _languages(files: Sequence[Path], prefix: str, src_lang: str) -> list[str]:
    """Language suffixes of ``prefix.{lang}`` files, without the source language."""
    langs = {p.name[len(prefix) + 1 :] for p in files}
    return sorted(lang for lang in langs if lang and lang not in _NOT_LANGS and lang != src_lang)


def read_corpus_split(
    root: Path,
    corpus_format: CorpusFormat,
    split: str,
    *,
    src_lang: str = "en",
    tgt_langs: Sequence[str] | None = None,
    clips_dir: Path | None = None,
    audio_root: Path | None = None,
    problems: list[str] | None = None,
) -> list[CorpusItem]:
    """Read one split of the corpus in ``root`` with the reader of ``corpus_format``.

    Args:
        root: the corpus directory.
        corpus_format: its layout (see the module docstring).
        split: a name from ``find_splits``.
        src_lang: language of the speech and transcripts.
        tgt_langs: target languages to read (default: every one the layout shows; for ``covost``
            and ``s2t`` the file's own, and at most one).
        clips_dir: CoVoST 2 clips directory (default ``root/clips``).
        audio_root: base of relative audio paths for ``s2t`` and ``simuleval`` (default: the
            manifest's or list's directory).
        problems: when given, bad entries are described here and skipped instead of raising.

    Raises:
        FileNotFoundError, ValueError: as the format's reader.
    """
    root = Path(root)
    if corpus_format == "mustc":
        txt = root / split / "txt"
        langs = (
            list(tgt_langs)
            if tgt_langs
            else _languages(list(txt.glob(f"{split}.*")), split, src_lang)
        )
        if not langs:
            raise ValueError(
                f"{txt} has no translation file {split}.LANG besides {split}.{src_lang}."
            )
        return read_mustc_items(root, split, src_lang, langs, problems=problems)
    if corpus_format == "covost":
        names = [
            (m.group(1), m.group(2))
            for p in root.glob(f"covost_v2.*.{split}.tsv")
            if (m := _COVOST_NAME.match(p.name))
            and m.group(3) == split
            and (not tgt_langs or m.group(2) in tgt_langs)
        ]
        if len(names) != 1:
            raise ValueError(
                f"{root} must hold exactly one covost_v2.SRC_TGT.{split}.tsv (for the chosen "
                f"--tgt-langs), but holds {len(names)}: pass one target language."
            )
        source, target = names[0]
        return read_covost_items(
            root, split, source, target, clips_dir=clips_dir, problems=problems
        )
    if corpus_format == "s2t":
        if tgt_langs is not None and len(tgt_langs) > 1:
            raise ValueError(
                f"an s2t manifest has one target text column, but {len(tgt_langs)} languages were given."
            )
        return read_fairseq_s2t_items(
            root / f"{split}.tsv",
            tgt_lang=tgt_langs[0] if tgt_langs else None,
            src_lang=src_lang,
            audio_root=audio_root,
            problems=problems,
        )
    if corpus_format == "simuleval":
        langs = (
            list(tgt_langs)
            if tgt_langs
            else _languages(list(root.glob(f"{split}.*")), split, src_lang)
        )
        if not langs:
            raise ValueError(f"{root} has no reference file {split}.LANG for {split}.wav_list.")
        transcripts = root / f"{split}.{src_lang}"
        return read_simuleval_lists_items(
            root / f"{split}.wav_list",
            {lang: root / f"{split}.{lang}" for lang in langs},
            source_text_file=transcripts if transcripts.is_file() else None,
            src_lang=src_lang,
            audio_root=audio_root,
            problems=problems,
        )
    if corpus_format == "sphinx":
        return read_sphinx_items(root, split, src_lang=src_lang, problems=problems)
    raise ValueError(
        f"`corpus_format` must be one of {CORPUS_FORMATS}, but is {corpus_format!r} instead."
    )
