"""Tandem sessions service.

Pairings, scheduled sessions, WebRTC signalling, two-party recording consent and the recorder.
"""
