"""Evaluation: metrics over answers, the runner that scores an evaluation set, and its written report."""
