"""The attention encoder-decoder: model (``model``), step decoder for the shared search
(``search``), training glue and streaming adapter (``family``), streaming model (``streaming``)."""
