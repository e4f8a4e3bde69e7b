"""Periodic sweeps: acknowledgement deadlines and crypto-shredding of expired closed reports."""
