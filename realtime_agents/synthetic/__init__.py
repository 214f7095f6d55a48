"""Synthetic conversation history for benchmarks and demos: realistic rows, generated fast."""
