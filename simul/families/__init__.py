"""The model families, one package each: model, search, training glue and streaming model.

- :mod:`simul.families.transducer`: the Transformer-Transducer (joint ASR/ST serialized output,
  native emission);
- :mod:`simul.families.aed`: the attention encoder-decoder (offline ST under any policy);
- :mod:`simul.families.monotonic`: the monotonic-attention translator (MMA-hard, MMA-IL, EMMA);
- :mod:`simul.families.fairseq2_s2t`: a researcher's fairseq2 S2T model under simul's policies (no
  training here, so not in the registry).

They share the blocks of :mod:`simul.models` (encoder, subsampling, CTC, predictor, joiner,
RNN-T loss, attention decoder, beam search) and of :mod:`simul.streaming` (front end, attention
decoder streaming model).  :mod:`simul.families.base` is the interface,
:mod:`simul.families.registry` the one list of families (extensible through the
``simul.families`` entry-point group), :mod:`simul.families.checkpoint` the file a trained model
lives in, and :mod:`simul.families.loading` turns a checkpoint into a streaming model.
"""
