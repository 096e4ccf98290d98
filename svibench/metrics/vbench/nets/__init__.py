"""Backbone architectures written to load VBench\x27s published checkpoints."""
