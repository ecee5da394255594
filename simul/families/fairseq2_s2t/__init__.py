"""A fairseq2 S2T model under simul's policies: model and step decoder (``model``), streaming
model (``streaming``).  Trained elsewhere, so it has no training glue and no registry entry."""
