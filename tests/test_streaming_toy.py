"""The toy model: what it shows a policy, as its docstring promises."""

from __future__ import annotations

import pytest
import torch

from simul.streaming import Capability, Requirements, Token, ToyConfig, ToyMode, ToyModel

_ATTENTION = Requirements(capabilities=frozenset({Capability.CROSS_ATTENTION}), attention_layer=0)


def _state(model: ToyModel, ms: int, *, finished: bool = False):
    """The state after ``ms`` of audio (16 samples per ms)."""
    return model.read(model.new_state(), torch.zeros(16 * ms), source_finished=finished)


def _tokens(model: ToyModel, state, count: int) -> list[Token]:
    """The first ``count`` tokens the model writes from ``state``, one at a time."""
    tokens = []
    for _ in range(count):
        token = model.signals(state, _ATTENTION).candidates[0]
        tokens.append(token)
        state = model.write(state, [token])
    return tokens


def test_decoder_mode_proposes_the_next_token_with_attention_peaking_on_its_frame() -> None:
    model = ToyModel(
        ToyConfig(pieces=("▁a", "▁b"), frames=(3, 30), head_offsets=(0, 2), attention_decay=0.5)
    )
    state = _state(model, 320)  # 8 frames
    signals = model.signals(state, _ATTENTION)
    assert [t.piece for t in signals.candidates] == ["▁a"]
    assert signals.num_frames == 8
    attention = signals.cross_attention
    assert attention.shape == (1, 2, 8)
    assert torch.allclose(attention.sum(dim=2), torch.ones(1, 2))
    assert attention[0].argmax(dim=1).tolist() == [3, 5]  # head 1 peaks two frames later
    assert attention[0, 0, 2] == pytest.approx(attention[0, 0, 3] / 2)
    state = model.write(state, signals.candidates)
    beyond = model.signals(state, _ATTENTION)
    assert beyond.cross_attention[0].argmax(dim=1).tolist() == [7, 7]  # frame 30 > T: the newest


def test_hypothesis_mode_runs_past_the_audio_then_ends() -> None:
    config = ToyConfig(mode=ToyMode.HYPOTHESIS, pieces=("▁a", "▁b", "▁c"), frames=(3, 12, 20))
    state = _state(ToyModel(config), 320)
    pieces = [t.piece for t in ToyModel(config).signals(state, _ATTENTION).candidates]
    assert pieces == ["▁a", "▁b", "</s>"]  # one token beyond the 8 frames, then EOS
    guessing = ToyModel(ToyConfig(**{**config.__dict__, "guess_unsupported": True}))
    assert [t.piece for t in guessing.signals(state, _ATTENTION).candidates] == [
        "▁a",
        "▁?8",
        "</s>",
    ]
    finished = _state(
        ToyModel(config), 500, finished=True
    )  # 13 frames: c (frame 20) is past the audio
    assert [t.piece for t in ToyModel(config).signals(finished, _ATTENTION).candidates] == [
        "▁a",
        "▁b",
        "</s>",
    ]


def test_transducer_mode_emits_what_the_received_frames_support() -> None:
    model = ToyModel(
        ToyConfig(mode=ToyMode.TRANSDUCER, pieces=("▁a", "▁b", "▁c"), frames=(3, 9, 20))
    )
    assert model.capabilities == frozenset({Capability.TRANSDUCER})
    signals = model.signals(_state(model, 400), Requirements())  # 10 frames
    assert [t.piece for t in signals.candidates] == ["▁a", "▁b"]
    assert signals.emission_frames == (3, 9)
    assert signals.cross_attention is None


def test_p_choose_is_monotonic_per_head() -> None:
    model = ToyModel(ToyConfig(pieces=("▁a", "▁b"), frames=(6, 2), head_offsets=(0, 1)))
    state = _state(model, 400)  # 10 frames
    requirements = Requirements(capabilities=frozenset({Capability.P_CHOOSE}))
    first = model.signals(state, requirements).p_choose
    assert first[0].argmax(dim=1).tolist() == [6, 7]
    state = model.write(state, model.signals(state, requirements).candidates)
    second = model.signals(
        state, requirements
    ).p_choose  # "▁b" is at frame 2, but heads never go back
    assert second[0].argmax(dim=1).tolist() == [6, 7]


def test_the_regular_script_and_the_layer_check() -> None:
    model = ToyModel()
    state = model.read(model.new_state(), torch.zeros(16_000), source_finished=True)  # 25 frames
    tokens = _tokens(model, state, 7)
    assert [t.piece for t in tokens] == ["▁w0", "-1", "▁w1", "-1", "▁w2", "-1", "</s>"]
    with pytest.raises(ValueError, match="`policy.attention.layer`"):
        model.check_requirements(
            Requirements(capabilities=_ATTENTION.capabilities, attention_layer=6)
        )
    model.check_requirements(Requirements(capabilities=_ATTENTION.capabilities, attention_layer=-6))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"pieces": ("▁a",), "frames": ()}, "one frame per piece"),
        ({"frame_ms": 0}, "frame_ms"),
        ({"head_offsets": ()}, "head_offsets"),
        ({"attention_decay": 1.0}, "attention_decay"),
        ({"streams": ()}, "streams"),
    ],
)
def test_bad_toy_configs_are_named(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ToyConfig(**options)
