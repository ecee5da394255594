"""The Transformer-Transducer: model (``model``), search (``search``), training glue and
streaming adapter (``family``), streaming model (``streaming``)."""
