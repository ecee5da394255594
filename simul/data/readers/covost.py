"""CoVoST 2 reader: the per-split TSV of ``get_covost_splits.py`` plus Common Voice clips.

Layout::

    root/covost_v2.{src}_{tgt}.{split}.tsv    columns path, sentence, translation, client_id
    clips_dir/{path}                          Common Voice clips (mp3), default root/clips

The TSV is the fairseq dialect (tab-separated, no quoting, backslash escapes).  Each clip is one
instance, whole.  Common Voice clips are mp3 at 48 kHz (some releases 32 kHz): soundfile decodes
mp3 when its libsndfile is >= 1.1 (soundfile >= 0.12 wheels bundle one); otherwise the reader says
so and how to convert.  The sample rate is recorded as found; ``simul data check`` reports
non-16 kHz audio unless told that the feature pipeline will resample (``--allow-resample``).
"""

from __future__ import annotations

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

__all__ = ["covost_tsv_path", "read_covost", "read_covost_items"]

_COLUMNS = ("path", "sentence", "translation")


def covost_tsv_path(root: Path, split: str, src_lang: str, tgt_lang: str) -> Path:
    """Where ``get_covost_splits.py`` writes a split: ``root/covost_v2.{src}_{tgt}.{split}.tsv``."""
    return Path(root) / f"covost_v2.{src_lang}_{tgt_lang}.{split}.tsv"


def read_covost_items(
    root: Path,
    split: str,
    src_lang: str = "en",
    tgt_lang: str = "de",
    *,
    clips_dir: Path | None = None,
    problems: list[str] | None = None,
) -> list[CorpusItem]:
    """Read one CoVoST 2 split, keeping each instance's ``tsv:line``.

    Args:
        root: directory holding ``covost_v2.{src}_{tgt}.{split}.tsv``.
        split: ``"train"``, ``"dev"`` or ``"test"``.
        src_lang: Common Voice language of the speech (``"en"``, ``"fr"``, ...).
        tgt_lang: language of ``translation`` (``"de"``, ``"zh-CN"``, ...).
        clips_dir: directory of the clips named in ``path`` (default: ``root/clips``).
        problems: when given, a bad row is described here and skipped instead of raising.

    Returns:
        One item per row, in file order; ids are the clip file names without extension.

    Raises:
        FileNotFoundError: the TSV or a clip does not exist.
        ValueError: empty TSV, missing columns, malformed row, undecodable clip; each message
            names the TSV, the 1-based line and the field.
    """
    tsv = covost_tsv_path(root, split, src_lang, tgt_lang)
    header, rows = read_tsv(tsv, _COLUMNS, "CoVoST 2 split")
    clips = Path(clips_dir) if clips_dir is not None else Path(root) / "clips"
    probe = AudioProbe()
    errors = ReadErrors(problems)
    items = []
    for where, row in rows:
        try:
            fields = row_fields(row, header, where)
            clip = fields["path"].strip()
            if not clip:
                raise entry_error(where, "`path` must name a clip, but is empty instead.")
            info = probe.info(resolve_audio_path(clip, clips), where, "path")
            speaker = fields.get("client_id", "").strip()
            instance = Instance(
                id=Path(clip).stem,
                audio_path=info.path,
                offset_samples=0,
                num_samples=info.num_samples,
                sample_rate=info.sample_rate,
                source_text=fields["sentence"].strip(),
                target_texts={tgt_lang: fields["translation"].strip()},
                source_lang=src_lang,
                speaker_id=speaker or None,
            )
            items.append(CorpusItem(instance=instance, origin=where))
        except (ValueError, FileNotFoundError) as error:
            errors.handle(error)
    return items


def read_covost(
    root: Path,
    split: str,
    src_lang: str = "en",
    tgt_lang: str = "de",
    *,
    clips_dir: Path | None = None,
    problems: list[str] | None = None,
) -> list[Instance]:
    """Read one CoVoST 2 split into instances (see ``read_covost_items``).

    Examples:
        >>> instances = read_covost(Path("covost"), "test", "en", "de", clips_dir=Path("cv/en/clips"))
    """
    items = read_covost_items(
        root, split, src_lang, tgt_lang, clips_dir=clips_dir, problems=problems
    )
    return [item.instance for item in items]
