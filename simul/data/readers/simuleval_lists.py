"""SimulEval list reader: ``--source`` (one audio path per line) and ``--target`` (one reference).

Layout written by fairseq's ``seg_mustc_data.py`` (what ``simul data check --format simuleval``
expects)::

    root/{split}.wav_list      one audio path per line (one utterance per file)
    root/{split}.{tgt}         one reference translation per line, same order (one file per
                               target language; SimulEval scores one at a time)
    root/{split}.{src}         optional: one transcript per line

SimulEval opens relative paths from its working directory; here they are resolved against
``audio_root``, by default the list's own directory, so that a corpus can be moved as a whole.
Pass ``audio_root=Path.cwd()`` for lists written relative to the directory SimulEval runs in.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from simul.data.instance import Instance
from simul.data.readers._common import (
    AudioProbe,
    CorpusItem,
    ReadErrors,
    entry_error,
    read_text_lines,
    require_line_count,
    resolve_audio_path,
)

__all__ = ["read_simuleval_lists", "read_simuleval_lists_items"]


def read_simuleval_lists_items(
    source_list: Path,
    targets: Mapping[str, Path],
    *,
    source_text_file: Path | None = None,
    src_lang: str = "en",
    audio_root: Path | None = None,
    problems: list[str] | None = None,
) -> list[CorpusItem]:
    """Read a SimulEval source list and reference file, keeping each instance's ``list:line``.

    Args:
        source_list: one audio path per line (SimulEval's ``--source``).
        targets: reference files by language, one reference per line (SimulEval's
            ``--target``), e.g. ``{"de": Path("tst-COMMON.de")}``.
        source_text_file: optional transcripts, one per line; without it ``source_text`` is ``""``.
        src_lang: language of the speech.
        audio_root: base of relative audio paths (default: the directory of ``source_list``).
        problems: when given, a bad line is described here and skipped instead of raising.

    Returns:
        One item per line; ids are the audio file names without extension.

    Raises:
        FileNotFoundError: a list, text or audio file does not exist.
        ValueError: an empty list, line counts that differ, an empty line, undecodable audio;
            each message names the file and the 1-based line.
    """
    source_list = Path(source_list)
    paths = read_text_lines(source_list, "SimulEval source list")
    if not paths:
        raise ValueError(f"SimulEval source list {source_list} is empty.")
    if not targets:
        raise ValueError("`targets` must name at least one reference file, but is empty instead.")
    references: dict[str, list[str]] = {}
    for lang, target_file in targets.items():
        references[lang] = read_text_lines(Path(target_file), f"{lang} references")
        require_line_count(Path(target_file), references[lang], len(paths), source_list.name)
    transcripts = None
    if source_text_file is not None:
        transcripts = read_text_lines(Path(source_text_file), f"{src_lang} transcripts")
        require_line_count(Path(source_text_file), transcripts, len(paths), source_list.name)
    base = Path(audio_root) if audio_root is not None else source_list.parent
    probe = AudioProbe()
    errors = ReadErrors(problems)
    items = []
    for position, value in enumerate(paths):
        where = f"{source_list}:{position + 1}"
        try:
            if not value:
                raise entry_error(where, "the line must name an audio file, but is empty instead.")
            info = probe.info(resolve_audio_path(value, base), where, "audio path")
            instance = Instance(
                id=Path(value).stem,
                audio_path=info.path,
                offset_samples=0,
                num_samples=info.num_samples,
                sample_rate=info.sample_rate,
                source_text=transcripts[position] if transcripts is not None else "",
                target_texts={lang: lines[position] for lang, lines in references.items()},
                source_lang=src_lang,
            )
            items.append(CorpusItem(instance=instance, origin=where))
        except (ValueError, FileNotFoundError) as error:
            errors.handle(error)
    return items


def read_simuleval_lists(
    source_list: Path,
    targets: Mapping[str, Path],
    *,
    source_text_file: Path | None = None,
    src_lang: str = "en",
    audio_root: Path | None = None,
    problems: list[str] | None = None,
) -> list[Instance]:
    """Read SimulEval lists into instances (see ``read_simuleval_lists_items``).

    Examples:
        >>> instances = read_simuleval_lists(Path("eval/tst-COMMON.wav_list"),
        ...                                  {"de": Path("eval/tst-COMMON.de")})
    """
    items = read_simuleval_lists_items(
        source_list,
        targets,
        source_text_file=source_text_file,
        src_lang=src_lang,
        audio_root=audio_root,
        problems=problems,
    )
    return [item.instance for item in items]
