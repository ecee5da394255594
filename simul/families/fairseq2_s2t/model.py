"""fairseq2 0.8.1 speech-to-text models (``s2t_transformer``, ``s2t_conformer``) for simul's search.

What a researcher's fairseq2 (or fairseq1 S2T) model needs to run under simul's policies:

- :func:`build_s2t_model`: the model from its config (``S2TTransformerConfig`` or
  ``S2TConformerConfig``, random weights, nothing downloaded), with the front-end fix below;
  :func:`load_s2t_model` also loads a checkpoint (fairseq2's or fairseq1's layout, converted by
  fairseq2's own ``convert_s2t_*_state_dict``);
- :func:`expose_cross_attention`: fairseq2's default attention kernel (``TorchSDPA``) cannot
  return weights, so the encoder-decoder attention of every decoder layer gets the same-math
  ``NaiveSDPA`` and a weight hook (:class:`CrossAttentionRecorder`);
- :class:`Fairseq2StepDecoder`: the decoder driven step by step from an ``IncrementalStateBag``
  (the forced prefix in one pass, then one token per step), as simul's
  :func:`~simul.models.beam_search.beam_search` expects, with every layer's cross-attention.

The front-end bug: in fairseq2 0.8.1, ``Conv1dFbankSubsampler.forward`` raises "`seqs` must not
be a packed batch" whenever ``seqs_layout.padded`` is true, i.e. for every batch of unequal
lengths, although the code after it handles padding (it means ``packed``).  Both S2T families use
that subsampler.  :class:`PaddedConv1dFbankSubsampler` is the same module with the test fixed;
:func:`build_s2t_model` swaps it in (same weights, same names).

The decoder's start tokens are fairseq's: ``</s>`` (``S2TTransformerTokenizer``'s prefix),
followed by a ``<lang:xx>`` tag for multilingual models (``start_ids``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, final

import torch
from torch import Tensor, nn
from typing_extensions import override

from simul._fairseq2 import import_fairseq2
from simul.families.checkpoint import load_weights_only
from simul.models.beam_search import StepDecoder, StepScores

_nn = import_fairseq2("fairseq2.nn")
_s2t_transformer = import_fairseq2("fairseq2.models.s2t_transformer")
_s2t_conformer = import_fairseq2("fairseq2.models.s2t_conformer")
_transformer = import_fairseq2("fairseq2.models.transformer")

__all__ = [
    "CrossAttentionRecorder",
    "Fairseq2SearchCache",
    "Fairseq2StepDecoder",
    "PaddedConv1dFbankSubsampler",
    "build_s2t_model",
    "encode",
    "expose_cross_attention",
    "load_s2t_model",
]


@final
class PaddedConv1dFbankSubsampler(_s2t_transformer.Conv1dFbankSubsampler):
    """fairseq2 0.8.1's ``Conv1dFbankSubsampler`` with its packed/padded test fixed.

    Workaround: the upstream ``forward`` tests ``seqs_layout.padded`` where it means ``packed``
    and so rejects every batch of unequal lengths ("`seqs` must not be a packed batch"); this
    subclass refuses packed batches only and computes the rest exactly as upstream (convolutions,
    then the contracted lengths of a padded batch).
    """

    @override
    def forward(self, seqs: Tensor, seqs_layout: Any) -> tuple[Tensor, Any]:
        if seqs_layout.packed:
            raise ValueError("`seqs` must not be a packed batch.")
        out = self.layers(seqs.transpose(1, 2)).transpose(1, 2)  # (N, S, C) -> (N, S_out, F)
        seq_lens = self._contract_seq_lens(seqs_layout.seq_lens) if seqs_layout.padded else None
        return out, _nn.BatchLayout.of(out, seq_lens)


def _padded_subsampler(old: nn.Module) -> PaddedConv1dFbankSubsampler:
    """A :class:`PaddedConv1dFbankSubsampler` with ``old``'s sizes and weights."""
    convs = [layer.conv for layer in old.layers]
    new = PaddedConv1dFbankSubsampler(
        num_channels=convs[0].in_channels,
        inner_dim=convs[0].out_channels,
        feature_dim=convs[-1].out_channels // 2,
        kernel_sizes=[conv.kernel_size[0] for conv in convs],
    )
    new.load_state_dict(old.state_dict())
    return new.to(device=convs[0].weight.device, dtype=convs[0].weight.dtype)


def build_s2t_model(config: Any) -> nn.Module:
    """A fairseq2 S2T Transformer or Conformer (``TransformerModel``) from its config, random weights.

    Args:
        config: an ``S2TTransformerConfig`` or ``S2TConformerConfig``.

    Returns:
        The model in eval mode, its front end fixed (see the module doc) and its cross-attention
        not yet exposed (:func:`expose_cross_attention`).
    """
    if isinstance(config, _s2t_conformer.S2TConformerConfig):
        model = _s2t_conformer.create_s2t_conformer_model(config)
    elif isinstance(config, _s2t_transformer.S2TTransformerConfig):
        model = _s2t_transformer.create_s2t_transformer_model(config)
    else:
        raise ValueError(
            f"`config` must be an S2TTransformerConfig or S2TConformerConfig, but is "
            f"{type(config).__name__} instead."
        )
    frontend = model.encoder_frontend
    frontend.feature_extractor = _padded_subsampler(frontend.feature_extractor)
    return model.eval()


def load_s2t_model(
    config: Any, path: Path, *, map_location: str | torch.device = "cpu"
) -> nn.Module:
    """:func:`build_s2t_model` with the weights of a checkpoint file.

    Accepts fairseq2's layout (the state dict, or a dict with it under ``"model"``) and fairseq1's
    S2T checkpoints, converted by fairseq2's ``convert_s2t_transformer_state_dict`` /
    ``convert_s2t_conformer_state_dict``.  Loaded with ``weights_only=True`` (no code runs).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file's weights do not fit the config (missing or unexpected names).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"fairseq2 checkpoint {path} does not exist.")
    model = build_s2t_model(config)
    payload = load_weights_only(path, map_location, what="a fairseq2 checkpoint")
    if not isinstance(payload, dict):
        raise ValueError(
            f"{path} must hold a state dict, but holds {type(payload).__name__} instead."
        )
    if isinstance(config, _s2t_conformer.S2TConformerConfig):
        state_dict = _s2t_conformer.convert_s2t_conformer_state_dict(payload, config)
    else:
        state_dict = _s2t_transformer.convert_s2t_transformer_state_dict(payload, config)
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise ValueError(
            f"{path} does not fit the {type(config).__name__} given: {first}"
        ) from None
    return model.eval()


@final
class CrossAttentionRecorder:
    """Keeps the encoder-decoder attention weights of the last decoder call, one entry per layer.

    Attributes:
        weights: per layer, (N, H, S, T) from the last call, in layer order.
    """

    def __init__(self, num_layers: int) -> None:
        self.num_layers = num_layers
        self.weights: list[Tensor] = []

    def __call__(self, module: nn.Module, attns: Tensor, attn_weights: Tensor) -> None:
        self.weights.append(attn_weights.detach())


def expose_cross_attention(model: nn.Module) -> CrossAttentionRecorder:
    """Make every decoder layer's encoder-decoder attention report its weights to a recorder.

    Swaps each layer's attention kernel for ``NaiveSDPA`` (the same computation, written out,
    which can return weights; same bias and dropout) and registers the recorder as its weight hook.
    Call once per model (it is an inference-time change; training is unaffected but slower).
    """
    layers = list(model.decoder.layers)
    recorder = CrossAttentionRecorder(len(layers))
    for layer in layers:
        attention = layer.encoder_decoder_attn
        old = attention.sdpa
        attention.sdpa = _transformer.NaiveSDPA(old.bias, dropout_p=getattr(old, "dropout_p", 0.0))
        attention.register_attn_weight_hook(recorder)
    return recorder


def encode(model: nn.Module, features: Tensor) -> tuple[Tensor, Any]:
    """The encoder output (1, T, M) and its layout for fbank frames (N, F) of one utterance."""
    seqs = features[None]  # (1, N, F)
    seqs, layout = model.encoder_frontend(seqs, _nn.BatchLayout.of(seqs))
    return model.encoder(seqs, layout), layout


@final
@dataclass(frozen=True, eq=False)
class Fairseq2SearchCache:
    """The search's cache for :class:`Fairseq2StepDecoder`.

    Attributes:
        bag: fairseq2's ``IncrementalStateBag`` (self- and cross-attention states), updated in place.
        encoder_output: (N, T, M) the encoder output of each hypothesis.
        encoder_layout: its ``BatchLayout``.
    """

    bag: Any
    encoder_output: Tensor
    encoder_layout: Any


@final
class Fairseq2StepDecoder(StepDecoder[Fairseq2SearchCache]):
    """A fairseq2 ``TransformerModel``'s decoder, step by step from an ``IncrementalStateBag``.

    The bag is modified in place by every call (fairseq2's design), so a cache must not be used
    after a later one was derived from it; the search never does.

    Args:
        model: the model (eval mode), its cross-attention exposed to ``recorder``.
        recorder: from :func:`expose_cross_attention`.
        encoder_output: (1, T, M) from :func:`encode`.
        encoder_layout: its layout.
        start_ids: the tokens the decoder starts from (fairseq: ``(eos_id,)``, then a language tag).
        max_num_steps: capacity of the bag, in target positions (start tokens included).
    """

    def __init__(
        self,
        model: nn.Module,
        recorder: CrossAttentionRecorder,
        encoder_output: Tensor,
        encoder_layout: Any,
        *,
        start_ids: Sequence[int],
        max_num_steps: int,
    ) -> None:
        if not start_ids:
            raise ValueError("`start_ids` must hold at least one token (fairseq: the EOS id).")
        self.model = model
        self.recorder = recorder
        self.encoder_output = encoder_output
        self.encoder_layout = encoder_layout
        self.start_ids = tuple(start_ids)
        self.max_num_steps = max_num_steps

    @property
    @override
    def num_hypotheses(self) -> int:
        return int(self.encoder_output.shape[0])

    def _run(self, tokens: Tensor, cache: Fairseq2SearchCache) -> StepScores:
        """Feed (N, S) tokens; scores of the position after the last one."""
        self.recorder.weights.clear()
        layout = _nn.BatchLayout.of(tokens)
        seqs, layout = self.model.decoder_frontend(tokens, layout, state_bag=cache.bag)
        out = self.model.decoder(
            seqs, layout, cache.encoder_output, cache.encoder_layout, state_bag=cache.bag
        )
        cache.bag.increment_step_nr(tokens.shape[1])
        logits = self.model.final_proj(out[:, -1:])[:, 0]  # (N, V)
        weights = self.recorder.weights
        if len(weights) != self.recorder.num_layers:
            raise ValueError(
                f"the recorder saw {len(weights)} cross-attention calls for "
                f"{self.recorder.num_layers} decoder layers: expose the model's cross-attention "
                "once (expose_cross_attention) and use that recorder."
            )
        attention = torch.stack([w[:, :, -1] for w in weights], dim=1).float()  # (N, L, H, T)
        return StepScores(
            log_probs=torch.log_softmax(logits.float(), dim=-1), cross_attention=attention
        )

    @override
    def start(self, prefix: Tensor) -> tuple[StepScores, Fairseq2SearchCache]:
        device = self.encoder_output.device
        starts = torch.tensor([self.start_ids], device=device).expand(prefix.shape[0], -1)
        tokens = torch.cat([starts, prefix.to(device)], dim=1)  # (N, len(start) + P)
        # +1: fairseq2 requires the step number to stay below max_num_steps.
        bag = _nn.IncrementalStateBag(max(self.max_num_steps, tokens.shape[1]) + 1)
        cache = Fairseq2SearchCache(
            bag=bag, encoder_output=self.encoder_output, encoder_layout=self.encoder_layout
        )
        return self._run(tokens, cache), cache

    @override
    def step(
        self, tokens: Tensor, cache: Fairseq2SearchCache
    ) -> tuple[StepScores, Fairseq2SearchCache]:
        return self._run(tokens.to(self.encoder_output.device)[:, None], cache), cache

    @override
    def reorder(self, cache: Fairseq2SearchCache, order: Tensor) -> Fairseq2SearchCache:
        cache.bag.reorder(order)
        output = cache.encoder_output.index_select(0, order)
        return Fairseq2SearchCache(
            bag=cache.bag, encoder_output=output, encoder_layout=_nn.BatchLayout.of(output)
        )
