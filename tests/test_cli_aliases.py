"""One option name per idea inside simul (the older names still work), and SimulEval's names
accepted where the idea is the same, so a SimulEval user's command line carries over."""

from __future__ import annotations

import pytest

from simul.cli.main import build_parser


@pytest.mark.parametrize(
    ("command", "nested", "new", "old", "dest"),
    [
        ("data", "align", ["data", "align", "D", "--output", "X", "--langs", "de"],
         ["data", "align", "D", "--out-dir", "X", "--lang", "de"], ("out_dir", "langs")),
        ("data", "check", ["data", "check", "D", "--langs", "de"], ["data", "check", "D", "--tgt-langs", "de"],
         ("tgt_langs",)),
        ("data", "cmvn", ["data", "cmvn", "D", "--output", "X"], ["data", "cmvn", "D", "--out", "X"], ("out",)),
        ("data", "spm", ["data", "spm", "--input", "a", "--output", "X"], ["data", "spm", "--input", "a", "--out", "X"],
         ("out",)),
        ("eval", None, ["eval", "D", "--model", "toy", "--policy", "waitk", "--segment-ms", "640"],
         ["eval", "D", "--model", "toy", "--policy", "waitk", "--source-segment-size", "640"], ("segment_ms",)),
        ("score", None, ["score", "L", "--latency-unit", "char", "--bleu-tokenizer", "intl"],
         ["score", "L", "--eval-latency-unit", "char", "--sacrebleu-tokenizer", "intl"],
         ("latency_unit", "bleu_tokenizer")),
    ],
)  # fmt: skip
def test_the_other_name_gives_the_same_value(
    command: str, nested: str | None, new: list[str], old: list[str], dest: tuple[str, ...]
) -> None:
    parser = build_parser(command, nested)
    ours, theirs = vars(parser.parse_args(new)), vars(parser.parse_args(old))
    assert ours == theirs
    for name in dest:
        assert ours[name] not in (None, [])
