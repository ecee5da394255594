"""Joint ASR/ST serialized output: serialize, de-serialize, align.

One Transformer-Transducer decoder can write the transcript and the translation(s) as one token
stream, each word after the source words it needs, with a tag at every change of stream.  This
package holds everything about that stream that is not the model:

- ``streams``: the stream names (``asr``, ``st`` or one per language) and their tags;
- ``order``: serialization, by alignment or by source word times (pure functions);
- ``transforms``: named ``Instance -> str`` target transforms for training
  (``asr``, ``st:de``, ``joint_alignment:de``, ``joint_timestamp:de+es``);
- ``encode``: serialized text -> token ids, each tag one id;
- ``deserialize``: emitted tokens -> per-stream words with delays -> the scorer's records;
- ``word_aligner`` and ``alignment_file``: eflomal alignments (``simul data align``), their file
  and their error rate against gold.

Examples:
    >>> from simul.serialize import get_target_transform, split_streams, EmittedToken
    >>> transform = get_target_transform("joint_alignment:de")
    >>> text = transform(instance)  # '<asr> because <st> weil <asr> the <st> der ...'
    >>> tokens = [EmittedToken(token, 100.0 * i) for i, token in enumerate(text.split())]
    >>> split_streams(tokens, transform.layout, unit="word")["st"].text
    'weil der Hund die Katze sieht'
"""

from simul.serialize.alignment_file import (
    AlignmentScores,
    alignment_scores,
    read_alignments,
    write_alignments,
)
from simul.serialize.deserialize import (
    EmittedToken,
    StreamWords,
    TimedText,
    TokenUnit,
    joint_instance_output,
    split_streams,
)
from simul.serialize.encode import SerializedTextEncoder
from simul.serialize.order import (
    Alignment,
    SerialWord,
    TargetWords,
    TimedTargetWords,
    merge_by_time,
    order_by_alignment,
    order_by_time,
    serialized_text,
    target_anchors,
)
from simul.serialize.streams import ASR_STREAM, ST_STREAM, StreamLayout, stream_tag
from simul.serialize.transforms import (
    TARGET_TRANSFORM_NAMES,
    TARGET_TRANSFORMS,
    AlignmentTables,
    JointTarget,
    SerializationMode,
    SourceText,
    TargetText,
    TargetTransform,
    get_target_transform,
)
from simul.serialize.word_aligner import (
    SYMMETRIZATIONS,
    AlignerConfig,
    Symmetrization,
    align_bitext,
    eflomal_directions,
    symmetrize,
)

__all__ = [
    "ASR_STREAM",
    "ST_STREAM",
    "SYMMETRIZATIONS",
    "TARGET_TRANSFORMS",
    "TARGET_TRANSFORM_NAMES",
    "AlignerConfig",
    "Alignment",
    "AlignmentScores",
    "AlignmentTables",
    "EmittedToken",
    "JointTarget",
    "SerialWord",
    "SerializationMode",
    "SerializedTextEncoder",
    "SourceText",
    "StreamLayout",
    "StreamWords",
    "Symmetrization",
    "TargetText",
    "TargetTransform",
    "TargetWords",
    "TimedTargetWords",
    "TimedText",
    "TokenUnit",
    "align_bitext",
    "alignment_scores",
    "eflomal_directions",
    "get_target_transform",
    "joint_instance_output",
    "merge_by_time",
    "order_by_alignment",
    "order_by_time",
    "read_alignments",
    "serialized_text",
    "split_streams",
    "stream_tag",
    "symmetrize",
    "target_anchors",
    "write_alignments",
]
