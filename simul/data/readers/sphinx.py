"""CMU Sphinx test layout: a ``fileids`` list and a ``transcription`` file (speech recognition).

Why: Debian's ``pocketsphinx-testdata`` ships real recorded speech in this layout (LibriVox
utterances under ``/usr/share/pocketsphinx/test/data/librivox/``), the one real-speech corpus a
fresh machine can install offline.  Layout (Sphinx's ``sphinx_fe``/``pocketsphinx_batch``
convention)::

    root/fileids          one utterance id per line: the wav's path under root, without ``.wav``
    root/transcription    one line per utterance: ``<s> the words </s> (id)``

The split is ``test`` for this pair; ``root/NAME.fileids`` with ``root/NAME.transcription`` is
split ``NAME`` (e.g. ``cards/cards.fileids``).  Instances carry the transcript as
``source_text`` (the ``asr`` stream's reference) and no translation.  ``<s>``, ``</s>`` and
``<sil>`` markers are dropped; the id in parentheses must be the ``fileids`` line's basename.
"""

from __future__ import annotations

import re
from pathlib import Path

from simul.data.instance import Instance
from simul.data.readers._common import (
    AudioProbe,
    CorpusItem,
    ReadErrors,
    entry_error,
    read_text_lines,
    require_line_count,
)

__all__ = ["read_sphinx", "read_sphinx_items", "sphinx_files", "sphinx_splits"]

_LINE = re.compile(r"^(?P<text>.*?)\s*\((?P<id>[^()\s]+)\)$")
_MARKERS = {"<s>", "</s>", "<sil>"}
_PLAIN_SPLIT = "test"


def sphinx_files(root: Path, split: str) -> tuple[Path, Path]:
    """The ``fileids`` and ``transcription`` files of ``split`` in ``root``."""
    root = Path(root)
    if split == _PLAIN_SPLIT and (root / "fileids").is_file():
        return root / "fileids", root / "transcription"
    return root / f"{split}.fileids", root / f"{split}.transcription"


def sphinx_splits(root: Path) -> list[str]:
    """The splits of a Sphinx layout in ``root`` (those with both files), sorted."""
    root = Path(root)
    found = [p.stem for p in root.glob("*.fileids") if p.with_suffix(".transcription").is_file()]
    if (root / "fileids").is_file() and (root / "transcription").is_file():
        found.append(_PLAIN_SPLIT)
    return sorted(set(found))


def read_sphinx_items(
    root: Path,
    split: str = _PLAIN_SPLIT,
    *,
    src_lang: str = "en",
    problems: list[str] | None = None,
) -> list[CorpusItem]:
    """Read one split of a Sphinx test folder, keeping each instance's ``fileids:line``.

    Raises:
        FileNotFoundError: a list or audio file does not exist.
        ValueError: an empty list, line counts that differ, a transcription line without its
            ``(id)`` or with another id; each message names the file and the 1-based line.
    """
    root = Path(root)
    fileids, transcription = sphinx_files(root, split)
    ids = read_text_lines(fileids, "Sphinx fileids")
    if not ids:
        raise ValueError(f"Sphinx fileids {fileids} is empty.")
    lines = read_text_lines(transcription, "Sphinx transcription")
    require_line_count(transcription, lines, len(ids), fileids.name)
    probe = AudioProbe()
    errors = ReadErrors(problems)
    items = []
    for position, (utterance, line) in enumerate(zip(ids, lines, strict=True)):
        where = f"{fileids}:{position + 1}"
        try:
            match = _LINE.match(line)
            if match is None:
                raise entry_error(
                    f"{transcription}:{position + 1}",
                    f"a line must end with the utterance id in parentheses, but is {line!r} instead.",
                )
            if match["id"] != Path(utterance).name:
                raise entry_error(
                    f"{transcription}:{position + 1}",
                    f"the id must be {Path(utterance).name!r} (fileids line {position + 1}), "
                    f"but is {match['id']!r} instead.",
                )
            words = [w for w in match["text"].split() if w not in _MARKERS]
            info = probe.info(root / f"{utterance}.wav", where, "fileid")
            instance = Instance(
                id=Path(utterance).name,
                audio_path=info.path,
                offset_samples=0,
                num_samples=info.num_samples,
                sample_rate=info.sample_rate,
                source_text=" ".join(words),
                source_lang=src_lang,
            )
            items.append(CorpusItem(instance=instance, origin=where))
        except (ValueError, FileNotFoundError) as error:
            errors.handle(error)
    return items


def read_sphinx(root: Path, split: str = _PLAIN_SPLIT, *, src_lang: str = "en") -> list[Instance]:
    """Read a Sphinx test folder into instances (see ``read_sphinx_items``).

    Examples:
        >>> instances = read_sphinx(Path("/usr/share/pocketsphinx/test/data/librivox"))
        >>> instances[1].source_text
        'he was not an ill disposed young man'
    """
    return [item.instance for item in read_sphinx_items(root, split, src_lang=src_lang)]
