"""Scoring without ground truth: metrics and intervals, per-movie evaluation, model choice."""
