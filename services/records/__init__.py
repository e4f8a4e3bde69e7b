"""Tandem records service.

Envelope-encrypted notes and recordings, retention, legal holds, disputes and the audit ledger.
"""
