"""Benchmarks of nnref against the book-style loop and PyTorch (``python bench/run.py``)."""
