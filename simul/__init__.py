"""simul: an open research platform for simultaneous speech translation.

The library is organised along the data flow of the design (``DESIGN.md``): ``simul.data``
(corpora and features), ``simul.models`` (streaming models), ``policies`` (read/write
decisions, a top-level package), ``simul.streaming`` (the one simultaneous loop) and
``simul.eval`` (latency and quality scores that equal SimulEval 1.1.4's).
"""

__version__ = "0.1.0"
