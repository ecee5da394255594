"""fairseq S2T manifest reader: the TSV that fairseq's ``speech_to_text`` task trains on.

Format (fairseq ``examples/speech_to_text/data_utils.py``): UTF-8, tab-separated, a header row,
no quoting, backslash as escape character (``csv.QUOTE_NONE``, ``escapechar="\\"``).  Columns
``id``, ``audio``, ``n_frames``, ``tgt_text`` are required; ``speaker``, ``src_text``, ``src_lang``,
``tgt_lang`` are optional (fairseq defaults them to empty).

``audio`` is either a path to an audio file, or ``path:offset:length``.  Into an audio file, simul
reads ``offset`` and ``length`` as samples (a segment of a long wav).  Into a ``.zip``, fairseq means
a byte slice of a stored archive of fbank ``.npy`` arrays or flac files; simul reads audio from
files with sample offsets and refuses such a slice with a message saying how to convert.
Relative paths are resolved against ``audio_root`` (fairseq's ``audio_root`` in the data config),
by default the manifest's own directory.  ``n_frames`` must be an integer but is not used: the
length comes from the audio itself.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from simul.data.instance import Instance
from simul.data.readers._common import (
    AudioProbe,
    CorpusItem,
    ReadErrors,
    entry_error,
    read_tsv,
    resolve_audio_path,
    row_fields,
)

__all__ = ["REQUIRED_COLUMNS", "read_fairseq_s2t", "read_fairseq_s2t_items"]

#: Columns every fairseq S2T manifest must have.
REQUIRED_COLUMNS = ("id", "audio", "n_frames", "tgt_text")


def _parse_audio(value: str, base: Path, where: str) -> tuple[Path, int | None, int | None]:
    """``audio`` as ``(path, offset_samples, num_samples)``; the last two ``None`` for a whole file."""
    value = value.strip()
    if not value:
        raise entry_error(where, "`audio` must name an audio file, but is empty instead.")
    whole = resolve_audio_path(value, base)
    parts = value.rsplit(":", 2)
    if whole.is_file() or len(parts) != 3:
        return whole, None, None
    path_text, offset_text, length_text = parts
    if not (offset_text.isdigit() and length_text.isdigit()):
        return whole, None, None
    path = resolve_audio_path(path_text, base)
    if path.suffix.lower() == ".zip" or (path.is_file() and zipfile.is_zipfile(path)):
        raise entry_error(
            where,
            f"`audio` is {value!r}, a byte slice of the zip archive {path} (fairseq's stored-zip "
            "manifest of fbank .npy or flac bytes). simul reads audio files with sample offsets: "
            "point `audio` at wav/flac files (for flac.zip: unzip it and list the files), or use "
            "the corpus's original audio with `read_mustc`.",
        )
    offset, length = int(offset_text), int(length_text)
    if length <= 0:
        raise entry_error(
            where, f"`audio` slice length must be > 0 samples, but is {length} instead."
        )
    return path, offset, length


def read_fairseq_s2t_items(
    manifest: Path,
    *,
    tgt_lang: str | None = None,
    src_lang: str = "en",
    audio_root: Path | None = None,
    problems: list[str] | None = None,
) -> list[CorpusItem]:
    """Read a fairseq S2T manifest, keeping each instance's ``manifest:line``.

    Args:
        manifest: the TSV file (e.g. ``tst-COMMON_st.tsv``).
        tgt_lang: language of ``tgt_text`` when the manifest has no ``tgt_lang`` column (or an
            empty one); an ASR manifest's ``tgt_text`` is the transcript: pass the source language.
        src_lang: language of ``src_text`` when there is no ``src_lang`` column.
        audio_root: base directory of relative audio paths (default: the manifest's directory).
        problems: when given, a bad row is described here and skipped instead of raising.

    Returns:
        One item per row, in file order.

    Raises:
        FileNotFoundError: the manifest or a listed audio file does not exist.
        ValueError: empty manifest, missing columns, a malformed row (wrong number of fields,
            empty id, non-integer ``n_frames``), a slice outside its audio file, undecodable
            audio; each message names the manifest, the 1-based line and the field.
    """
    manifest = Path(manifest)
    header, rows = read_tsv(manifest, REQUIRED_COLUMNS, "fairseq S2T manifest")
    if tgt_lang is None and "tgt_lang" not in header:
        raise entry_error(
            f"{manifest}:1",
            "the target language is unknown: the header has no `tgt_lang` column; pass `tgt_lang`.",
        )
    base = Path(audio_root) if audio_root is not None else manifest.parent
    probe = AudioProbe()
    errors = ReadErrors(problems)
    items = []
    for where, row in rows:
        try:
            items.append(
                _read_row(row_fields(row, header, where), where, base, probe, tgt_lang, src_lang)
            )
        except (ValueError, FileNotFoundError) as error:
            errors.handle(error)
    return items


def _read_row(
    fields: dict[str, str],
    where: str,
    base: Path,
    probe: AudioProbe,
    tgt_lang: str | None,
    src_lang: str,
) -> CorpusItem:
    utterance_id = fields["id"].strip()
    if not utterance_id:
        raise entry_error(where, "`id` must be non-empty, but is empty instead.")
    n_frames = fields["n_frames"].strip()
    if not n_frames.isdigit():
        raise entry_error(
            where, f"`n_frames` must be an integer >= 0, but is {n_frames!r} instead."
        )
    language = fields.get("tgt_lang", "").strip() or tgt_lang
    if not language:
        raise entry_error(
            where,
            "`tgt_lang` must name the target language, but is empty (and no default was given).",
        )
    path, offset, length = _parse_audio(fields["audio"], base, where)
    info = probe.info(path, where, "audio")
    if offset is None or length is None:
        offset, length = 0, info.num_samples
    if offset + length > info.num_samples:
        raise entry_error(
            where,
            f"`audio` slice {offset}:{length} must end inside {path} ({info.num_samples} samples), "
            f"but ends at sample {offset + length} instead.",
        )
    speaker = fields.get("speaker", "").strip()
    instance = Instance(
        id=utterance_id,
        audio_path=path,
        offset_samples=offset,
        num_samples=length,
        sample_rate=info.sample_rate,
        source_text=fields.get("src_text", "").strip(),
        target_texts={language: fields["tgt_text"].strip()},
        source_lang=fields.get("src_lang", "").strip() or src_lang,
        speaker_id=speaker or None,
    )
    return CorpusItem(instance=instance, origin=where)


def read_fairseq_s2t(
    manifest: Path,
    *,
    tgt_lang: str | None = None,
    src_lang: str = "en",
    audio_root: Path | None = None,
    problems: list[str] | None = None,
) -> list[Instance]:
    """Read a fairseq S2T manifest into instances (see ``read_fairseq_s2t_items``).

    Examples:
        >>> instances = read_fairseq_s2t(Path("en-de/tst-COMMON_st.tsv"), tgt_lang="de")
    """
    items = read_fairseq_s2t_items(
        manifest, tgt_lang=tgt_lang, src_lang=src_lang, audio_root=audio_root, problems=problems
    )
    return [item.instance for item in items]
