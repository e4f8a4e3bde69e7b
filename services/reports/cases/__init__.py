"""Handling concerns: safeguarding officers only."""
