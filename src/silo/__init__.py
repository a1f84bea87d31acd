"""silo: a benchmark of whether LLM agent teams compute with information split between them."""

__version__ = "0.1.0"
