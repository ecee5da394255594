"""Corpus readers: MuST-C, CoVoST 2, fairseq S2T manifests, SimulEval lists and Sphinx test folders, one instance type.

Every reader returns ``list[Instance]`` (``simul.data.instance``); its ``*_items`` twin also keeps
where each instance came from (``path:line``), for validators.  Readers read audio headers only;
``simul.data.check`` reopens the audio and reads every sample.
"""

from simul.data.readers._common import AudioInfo, CorpusItem
from simul.data.readers.corpus_dir import (
    CORPUS_FORMATS,
    CorpusFormat,
    detect_format,
    find_splits,
    read_corpus_split,
)
from simul.data.readers.covost import read_covost, read_covost_items
from simul.data.readers.fairseq_s2t import read_fairseq_s2t, read_fairseq_s2t_items
from simul.data.readers.mustc import read_mustc, read_mustc_items
from simul.data.readers.simuleval_lists import read_simuleval_lists, read_simuleval_lists_items
from simul.data.readers.sphinx import read_sphinx, read_sphinx_items

__all__ = [
    "CORPUS_FORMATS",
    "AudioInfo",
    "CorpusFormat",
    "CorpusItem",
    "detect_format",
    "find_splits",
    "read_corpus_split",
    "read_covost",
    "read_covost_items",
    "read_fairseq_s2t",
    "read_fairseq_s2t_items",
    "read_mustc",
    "read_mustc_items",
    "read_simuleval_lists",
    "read_simuleval_lists_items",
    "read_sphinx",
    "read_sphinx_items",
]
