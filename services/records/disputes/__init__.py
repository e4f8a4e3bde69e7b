"""Disputes: the only path by which admins reach a recording (four-eyes, time-boxed, ledgered)."""
