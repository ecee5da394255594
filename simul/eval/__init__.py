"""Evaluation harness: latency and quality per output stream, equal to SimulEval 1.1.4's."""
