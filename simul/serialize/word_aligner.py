"""Word alignment of a bitext with eflomal, symmetrized, for alignment-based serialization.

Why eflomal: the serialized-output papers place target words with an off-the-shelf textual
aligner; eflomal (Östling and Tiedemann, "Efficient Word Alignment with Markov Chain Monte Carlo",
PBML 2016; PyPI ``eflomal``) is fast, unsupervised and installs as a wheel.  It aligns a whole
bitext at once (the model is fitted on the sentences it aligns), so the training split is
aligned together with any other split that needs alignments.

What this module adds to eflomal:

- **Normalisation for the aligner only.**  Words are lowercased and stripped of punctuation at
  their edges (``"key."`` and ``"key"`` are one word), one aligner token per whitespace word, so
  the indices stay those of the corpus' whitespace words.  A word that is only punctuation is
  kept as it is.
- **Symmetrization.**  eflomal writes a forward alignment (each target word linked to at most one
  source word) and a reverse one; ``grow-diag-final-and`` (Koehn et al. 2005, Moses) combines
  them: start from their intersection, add neighbouring (diagonals included) links of the union
  that align a yet-unaligned word, then links of either direction between two unaligned words.
- **Determinism: none.**  eflomal 2.0.0 has no seed option: its binary seeds its sampler from
  ``/dev/urandom`` (and runs ``num_samplers`` samplers in parallel threads), so two runs can give
  slightly different alignments.  Align once with ``simul data align``, which writes the result
  to a file, and train from the file: serialization is then deterministic.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from simul.serialize.order import Alignment

__all__ = [
    "SYMMETRIZATIONS",
    "AlignerConfig",
    "Symmetrization",
    "align_bitext",
    "aligner_token",
    "eflomal_directions",
    "parse_pharaoh",
    "symmetrize",
]

logger = logging.getLogger(__name__)

Symmetrization = Literal["grow-diag-final-and", "intersection", "union", "forward", "reverse"]
#: The ways to combine eflomal's two directions.
SYMMETRIZATIONS = ("grow-diag-final-and", "intersection", "union", "forward", "reverse")

_NEIGHBOURS = ((-1, 0), (0, -1), (1, 0), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1))


@dataclass(frozen=True, kw_only=True)
class AlignerConfig:
    """How eflomal aligns and how its two directions are combined."""

    symmetrization: Symmetrization = "grow-diag-final-and"
    """How the forward and reverse alignments are combined."""
    model: int = 3
    """eflomal's model: 1 = IBM1, 2 = IBM1 + HMM, 3 = IBM1 + HMM + fertility."""
    num_samplers: int = 3
    """Independent Gibbs samplers whose counts eflomal averages (threads)."""
    rel_iterations: float = 1.0
    """Sampling iterations relative to eflomal's default for the corpus size."""
    null_prior: float = 0.2
    """Prior probability of a NULL (unaligned) link."""

    def __post_init__(self) -> None:
        if self.symmetrization not in SYMMETRIZATIONS:
            raise ValueError(
                f"`symmetrization` must be one of {SYMMETRIZATIONS}, but is "
                f"{self.symmetrization!r} instead."
            )
        if self.model not in (1, 2, 3):
            raise ValueError(f"`model` must be 1, 2 or 3, but is {self.model!r} instead.")
        if self.num_samplers < 1:
            raise ValueError(f"`num_samplers` must be >= 1, but is {self.num_samplers} instead.")
        if not self.rel_iterations > 0:
            raise ValueError(f"`rel_iterations` must be > 0, but is {self.rel_iterations} instead.")
        if not 0.0 < self.null_prior < 1.0:
            raise ValueError(f"`null_prior` must be in (0, 1), but is {self.null_prior} instead.")


def aligner_token(word: str) -> str:
    """The token eflomal sees for ``word``: lowercased, edge punctuation stripped."""
    start, end = 0, len(word)
    while start < end and unicodedata.category(word[start]).startswith("P"):
        start += 1
    while end > start and unicodedata.category(word[end - 1]).startswith("P"):
        end -= 1
    return (word[start:end] or word).lower()


def parse_pharaoh(line: str, num_source: int, num_target: int, where: str) -> Alignment:
    """Parse one Pharaoh line (``"0-0 1-2"``) into sorted ``(source, target)`` pairs.

    Raises:
        ValueError: a link that is not ``I-J`` or whose indices are out of range, naming ``where``.
    """
    pairs = set()
    for link in line.split():
        source, dash, target = link.partition("-")
        if not (dash and source.isdigit() and target.isdigit()):
            raise ValueError(f"{where}: alignment link must be I-J, but is {link!r} instead.")
        pair = (int(source), int(target))
        if not (pair[0] < num_source and pair[1] < num_target):
            raise ValueError(
                f"{where}: alignment link {link} must index {num_source} source and {num_target} "
                "target words, but is out of range."
            )
        pairs.add(pair)
    return tuple(sorted(pairs))


def symmetrize(forward: Alignment, reverse: Alignment, how: Symmetrization) -> Alignment:
    """Combine a forward and a reverse alignment of one sentence pair (see the module doc)."""
    if how == "forward":
        return tuple(sorted(set(forward)))
    if how == "reverse":
        return tuple(sorted(set(reverse)))
    forward_set, reverse_set = set(forward), set(reverse)
    union = forward_set | reverse_set
    if how == "union":
        return tuple(sorted(union))
    links = forward_set & reverse_set
    if how == "intersection":
        return tuple(sorted(links))
    if how != "grow-diag-final-and":
        raise ValueError(f"`how` must be one of {SYMMETRIZATIONS}, but is {how!r} instead.")
    aligned_source = {s for s, _ in links}
    aligned_target = {t for _, t in links}
    grown = True
    while grown:  # grow-diag: neighbours of current links that align a new word
        grown = False
        for source, target in sorted(links):
            for step_s, step_t in _NEIGHBOURS:
                candidate = (source + step_s, target + step_t)
                if (
                    candidate in union
                    and candidate not in links
                    and (candidate[0] not in aligned_source or candidate[1] not in aligned_target)
                ):
                    links.add(candidate)
                    aligned_source.add(candidate[0])
                    aligned_target.add(candidate[1])
                    grown = True
    for direction in (forward_set, reverse_set):  # final-and: links between two unaligned words
        for source, target in sorted(direction):
            if source not in aligned_source and target not in aligned_target:
                links.add((source, target))
                aligned_source.add(source)
                aligned_target.add(target)
    return tuple(sorted(links))


def eflomal_directions(
    source_sentences: Sequence[Sequence[str]],
    target_sentences: Sequence[Sequence[str]],
    config: AlignerConfig | None = None,
) -> tuple[list[Alignment], list[Alignment]]:
    """Word-align a bitext with eflomal: its forward and reverse alignments, unsymmetrized.

    Args:
        source_sentences: N sentences, each its whitespace words.
        target_sentences: N translations, each its whitespace words.
        config: eflomal's settings (``symmetrization`` is not used here).

    Returns:
        The forward and the reverse alignments, N each, as sorted ``(source, target)`` pairs;
        an empty side gives empty alignments.

    Raises:
        ValueError: the two sides differ in length, or a word holds whitespace.
        RuntimeError: eflomal failed or wrote an unexpected number of lines.
    """
    import eflomal

    config = config or AlignerConfig()
    if len(source_sentences) != len(target_sentences):
        raise ValueError(
            f"the bitext must have as many translations as sentences, but has "
            f"{len(source_sentences)} sentences and {len(target_sentences)} translations."
        )
    lines: dict[str, list[str]] = {"source": [], "target": []}
    for side, sentences in (("source", source_sentences), ("target", target_sentences)):
        for number, words in enumerate(sentences):
            if any(not word or any(c.isspace() for c in word) for word in words):
                raise ValueError(
                    f"{side} sentence {number} must be whitespace-free words, but is {list(words)!r}."
                )
            lines[side].append(" ".join(aligner_token(word) for word in words))
    if not lines["source"]:
        return [], []
    logger.info("aligning %d sentence pairs with eflomal", len(lines["source"]))
    with tempfile.TemporaryDirectory(prefix="simul-eflomal-") as work:
        forward_path, reverse_path = Path(work) / "forward", Path(work) / "reverse"
        aligner = eflomal.Aligner(
            model=config.model,
            n_samplers=config.num_samplers,
            rel_iterations=config.rel_iterations,
            null_prior=config.null_prior,
        )
        try:
            aligner.align(
                lines["source"],
                lines["target"],
                links_filename_fwd=str(forward_path),
                links_filename_rev=str(reverse_path),
                quiet=True,
            )
        except (OSError, ValueError, RuntimeError, subprocess.SubprocessError) as error:
            raise RuntimeError(f"eflomal failed: {error}") from error
        directions: list[list[Alignment]] = []
        for path in (forward_path, reverse_path):
            text = path.read_text(encoding="utf-8") if path.is_file() else ""
            if text.count("\n") != len(lines["source"]):
                raise RuntimeError(
                    f"eflomal must write one line per sentence pair ({len(lines['source'])}) to "
                    f"{path.name}, but wrote {text.count(chr(10))}."
                )
            directions.append(
                [
                    parse_pharaoh(
                        line, len(source), len(target), f"eflomal {path.name} line {n + 1}"
                    )
                    for n, (line, source, target) in enumerate(
                        zip(text.split("\n"), source_sentences, target_sentences, strict=False)
                    )
                ]
            )
    return directions[0], directions[1]


def align_bitext(
    source_sentences: Sequence[Sequence[str]],
    target_sentences: Sequence[Sequence[str]],
    config: AlignerConfig | None = None,
) -> list[Alignment]:
    """Word-align a bitext with eflomal and symmetrize each sentence pair.

    Args:
        source_sentences: N sentences, each its whitespace words.
        target_sentences: N translations, each its whitespace words.
        config: eflomal's settings and the symmetrization (Default: ``AlignerConfig()``).

    Returns:
        N alignments of ``(source_index, target_index)`` pairs, sorted; an empty side gives an
        empty alignment.

    Raises:
        ValueError, RuntimeError: as :func:`eflomal_directions`.
    """
    config = config or AlignerConfig()
    forward, reverse = eflomal_directions(source_sentences, target_sentences, config)
    return [symmetrize(f, r, config.symmetrization) for f, r in zip(forward, reverse, strict=True)]
