"""Speech features: log-mel filterbanks (offline and streaming), global CMVN, training batches.

Every path (CMVN estimation, training batches, the simultaneous loop) reads audio with
:func:`load_waveform` and computes frames with :class:`FbankExtractor`, so features cannot
drift between training and inference.  fairseq2 is imported lazily, through
:func:`simul._fairseq2.import_fairseq2`, when an extractor or a pipeline is first built.
"""

from simul.data.features.audio import load_waveform, resample
from simul.data.features.cmvn import Cmvn, CmvnAccumulator, compute_cmvn
from simul.data.features.fbank import (
    FbankConfig,
    FbankExtractor,
    StreamingFbank,
    StreamingFbankState,
)
from simul.data.features.pipeline import (
    BatchConfig,
    FeatureBatch,
    build_batch_pipeline,
    source_text,
    translation_text,
)

__all__ = [
    "BatchConfig",
    "Cmvn",
    "CmvnAccumulator",
    "FbankConfig",
    "FbankExtractor",
    "FeatureBatch",
    "StreamingFbank",
    "StreamingFbankState",
    "build_batch_pipeline",
    "compute_cmvn",
    "load_waveform",
    "resample",
    "source_text",
    "translation_text",
]
