"""Bundled data: the report capture and the evaluation set."""
