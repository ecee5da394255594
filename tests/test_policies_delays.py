"""Every policy on the toy model: the delays equal hand-computed ones.

Common setting: 16 kHz, 320 ms segments, 40 ms toy frames, so while the source runs segment s
(1-based) ends at 320 s ms with T = 8 s frames received; the audio is 2 s, so segment 7 (80 ms)
is the last, at 2000 ms, when everything left is flushed.  One-piece words ``a``..``d`` aligned
to frames 5, 12, 20 and 30 unless said otherwise.
"""

from __future__ import annotations

import pytest
import torch

from policies import (
    AlignAtt,
    AttentionReading,
    EDAtt,
    HeadAggregation,
    LocalAgreement,
    MonotonicThreshold,
    Normalization,
    SourceUnit,
    TargetUnit,
    TransducerEmission,
    WaitK,
)
from simul.streaming import Policy, ToyConfig, ToyMode, ToyModel, simulate_waveform

FRAMES = (5, 12, 20, 30)
WAVEFORM = torch.zeros(32_000)  # 2 s


def _toy(frames=FRAMES, **options) -> ToyModel:
    pieces = tuple(f"▁{chr(ord('a') + i)}" for i in range(len(frames)))
    return ToyModel(ToyConfig(pieces=pieces, frames=tuple(frames), **options))


def _delays(model: ToyModel, policy: Policy) -> list[float]:
    return [w.source_ms for w in simulate_waveform(model, policy, WAVEFORM).emissions]


def _segment_ms(s: int) -> float:
    return min(320.0 * s, 2000.0)


# -- wait-k ---------------------------------------------------------------------------------------


def test_waitk_token_i_comes_after_segment_i_plus_k_minus_1() -> None:
    model = _toy(frames=(0,) * 6)
    # k = 3: token i (1-based) after segment i + 2; tokens 5 and 6 are flushed at the end.
    assert _delays(model, WaitK(k=3)) == [960.0, 1280.0, 1600.0, 1920.0, 2000.0, 2000.0]
    assert _delays(model, WaitK(k=1)) == [320.0, 640.0, 960.0, 1280.0, 1600.0, 1920.0]


def test_waitk_in_estimated_source_words() -> None:
    model = _toy(frames=(0,) * 6)
    # 400 ms per word: floor(320 s / 400) words after segment s = 0, 1, 2, 3, 4, 4, then 5 at 2 s.
    # k = 2 writes (words - 1) tokens: the first after segment 3.
    policy = WaitK(k=2, source_unit=SourceUnit.WORD, ms_per_word=400)
    assert _delays(model, policy) == [960.0, 1280.0, 1600.0, 2000.0, 2000.0, 2000.0]


def test_waitk_in_target_words_writes_whole_words() -> None:
    pieces = ("▁a", "-x", "▁b", "-y", "▁c", "-z")
    model = ToyModel(ToyConfig(pieces=pieces, frames=(0,) * 6))
    result = simulate_waveform(model, WaitK(k=1, target_unit=TargetUnit.WORD), WAVEFORM)
    assert [(w.text, w.source_ms) for w in result.emissions] == [
        ("a-x", 320.0), ("b-y", 640.0), ("c-z", 960.0),
    ]  # fmt: skip


# -- AlignAtt -------------------------------------------------------------------------------------


def test_alignatt_waits_while_a_token_is_aligned_to_the_last_f_frames() -> None:
    # One-hot attention on the token's frame (clamped to T - 1), all frames kept: token f is
    # written once f < T - 4, i.e. after segment floor((f + 4) / 8) + 1.
    model = _toy(attention_decay=0.0)
    policy = AlignAtt(frames=4, attention=AttentionReading(exclude_last_frame=False))
    expected = [_segment_ms((f + 4) // 8 + 1) for f in FRAMES]
    assert expected == [640.0, 960.0, 1280.0, 1600.0]
    assert _delays(model, policy) == expected


def test_alignatt_with_fbks_reading_on_the_regular_toy() -> None:
    # Word j is aligned to frame 7 (j + 1) - 1; decaying attention, last frame dropped: a token
    # aligned beyond the audio peaks on the dropped frame, so its argmax is T - 2.  With f = 2 a
    # token is written once f_j < T - 3, i.e. after segment floor((f_j + 3) / 8) + 1.
    model = ToyModel(ToyConfig())
    frames = [7 * (j + 1) - 1 for j in range(7)]
    expected = [_segment_ms((f + 3) // 8 + 1) for f in frames]
    result = simulate_waveform(model, AlignAtt(frames=2), WAVEFORM)
    assert [w.source_ms for w in result.emissions] == expected
    assert [w.text for w in result.emissions] == [f"w{j}-1" for j in range(7)]  # w7 is past 2 s


def test_alignatt_zscore_needs_the_whole_hypothesis() -> None:
    policy = AlignAtt(attention=AttentionReading(normalization=Normalization.ZSCORE))
    with pytest.raises(ValueError, match="needs hypothesis, which model ToyModel does not provide"):
        simulate_waveform(_toy(), policy, WAVEFORM)
    delays = _delays(_toy(mode=ToyMode.HYPOTHESIS, attention_decay=0.0), policy)
    assert len(delays) == len(FRAMES) and delays == sorted(delays)


# -- EDAtt ------------------------------------------------------------------------------------------


def _two_head_toy() -> ToyModel:
    # Head 0 peaks on the token's frame, head 1 ten frames later (both clamped to T - 1).
    return _toy(attention_decay=0.0, head_offsets=(0, 10))


def _edatt(alpha: float, **reading) -> EDAtt:
    return EDAtt(
        alpha=alpha,
        frames=2,
        attention=AttentionReading(
            normalization=Normalization.L2, exclude_last_frame=False, **reading
        ),
    )


def test_edatt_alpha_against_the_attention_on_the_last_lambda_frames() -> None:
    model = _two_head_toy()
    # Mean of heads, L2-normalised: 1/sqrt(2) on each of two distinct peaks.  alpha = 0.5: head
    # 1's peak in the last 2 frames is enough to wait: written once f + 10 < T - 2.
    assert _delays(model, _edatt(0.5)) == [_segment_ms((f + 12) // 8 + 1) for f in FRAMES]
    assert _delays(model, _edatt(0.5)) == [960.0, 1280.0, 1600.0, 1920.0]
    # alpha = 0.8: both peaks (sqrt(2)) or one merged peak (1) are needed: written once f < T - 2.
    assert _delays(model, _edatt(0.8)) == [_segment_ms((f + 2) // 8 + 1) for f in FRAMES]
    assert _delays(model, _edatt(0.8)) == [320.0, 640.0, 960.0, 1600.0]


def test_edatt_reads_only_the_chosen_heads() -> None:
    model = _two_head_toy()
    # Head 0 alone: one peak of weight 1 on the token's frame, written once f < T - 2.
    assert _delays(model, _edatt(0.5, heads=(0,))) == [320.0, 640.0, 960.0, 1600.0]
    # Max over heads, L2: the same two peaks as the mean, so the same delays as alpha 0.5 above.
    assert _delays(model, _edatt(0.5, head_aggregation=HeadAggregation.MAX)) == [
        960.0, 1280.0, 1600.0, 1920.0,
    ]  # fmt: skip


# -- LocalAgreement ---------------------------------------------------------------------------------


def test_local_agreement_writes_what_consecutive_hypotheses_share() -> None:
    # The hypothesis at segment s: the tokens aligned inside T_s = 8 s frames, then a guess that
    # depends on T_s, then </s>.  LA-n writes a token once the n last hypotheses hold it:
    # after segment floor(f / 8) + n.
    model = _toy(mode=ToyMode.HYPOTHESIS, guess_unsupported=True)
    assert _delays(model, LocalAgreement(n=2)) == [_segment_ms(f // 8 + 2) for f in FRAMES]
    assert _delays(model, LocalAgreement(n=2)) == [640.0, 960.0, 1280.0, 1600.0]
    assert _delays(model, LocalAgreement(n=3)) == [960.0, 1280.0, 1600.0, 1920.0]
    # n = 1 trusts every hypothesis, guesses included.
    words = simulate_waveform(model, LocalAgreement(n=1), WAVEFORM).emissions
    assert words[0].text == "a" and words[1].text == "?8"


def test_local_agreement_needs_hypotheses() -> None:
    with pytest.raises(ValueError, match="needs hypothesis"):
        simulate_waveform(_toy(), LocalAgreement(), WAVEFORM)


# -- transducer emission and monotonic attention --------------------------------------------------


def test_transducer_writes_tokens_when_their_frame_arrives() -> None:
    model = _toy(mode=ToyMode.TRANSDUCER)
    # Piece by piece (whole_words off): emitted by frame f once T > f, after segment floor(f / 8) + 1.
    assert _delays(model, TransducerEmission(whole_words=False)) == [320.0, 640.0, 960.0, 1280.0]
    # Four more frames of delay: once T > f + 4.
    delayed = TransducerEmission(extra_delay_frames=4, whole_words=False)
    assert _delays(model, delayed) == [640.0, 960.0, 1280.0, 1600.0]
    # Whole words (the default): a transducer proposes no look-ahead, so a word is known to be
    # complete only when the next one is emitted (the last one at the end of the source).
    assert _delays(model, TransducerEmission()) == [640.0, 960.0, 1280.0, 2000.0]
    # Wait-2 on the transducer: one token less than segments, if emitted.
    assert _delays(model, WaitK(k=2, whole_words=False)) == [640.0, 960.0, 1280.0, 1600.0]


def test_monotonic_heads_must_all_stop_within_the_received_source() -> None:
    model = _toy(head_offsets=(0, 3))
    # Head 1 stops 3 steps after the token's frame: written once f + 3 < T.
    assert _delays(model, MonotonicThreshold()) == [_segment_ms((f + 3) // 8 + 1) for f in FRAMES]
    assert _delays(model, MonotonicThreshold()) == [640.0, 640.0, 960.0, 1600.0]
    with pytest.raises(ValueError, match="needs p_choose"):
        simulate_waveform(_toy(mode=ToyMode.TRANSDUCER), MonotonicThreshold(), WAVEFORM)
