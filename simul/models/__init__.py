"""Streaming speech translation models and their training losses."""
