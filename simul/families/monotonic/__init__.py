"""The monotonic-attention translator: model (``model``), monotonic cross-attention
(``attention``), training glue and streaming adapter (``family``), streaming model (``streaming``)."""
