"""Classifier: the transformers model that sorts what residents write, and the rules that assign groups."""
