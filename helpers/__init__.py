"""Pixels to Predictions: reusable code for the book, the demos and the graded notebooks."""
