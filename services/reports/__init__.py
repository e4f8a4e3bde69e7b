"""Tandem reports service.

Confidential concern reports, visible only to safeguarding officers.
"""
