"""The end-to-end demo, ``simul demo OUT_DIR``: corpus, vocabulary, CMVN, training, evaluation, table.

:func:`run_demo` composes what the other commands do (``simul data synth``, ``data spm``,
``data cmvn``, ``train``, ``sweep``/``eval``, ``data oracle``) into one resumable run; the stages
that prepare the corpus are in :mod:`simul.demo.prepare`.
"""

from simul.demo.prepare import (
    DEMO_SIZES,
    DemoSize,
    prepare_cmvn,
    prepare_corpus,
    prepare_vocabulary,
)
from simul.demo.run import STAGES, DemoConfig, DemoResult, run_demo

__all__ = [
    "DEMO_SIZES",
    "STAGES",
    "DemoConfig",
    "DemoResult",
    "DemoSize",
    "prepare_cmvn",
    "prepare_corpus",
    "prepare_vocabulary",
    "run_demo",
]
