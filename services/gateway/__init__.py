"""Tandem gateway service.

Public entry: OAuth 2.1 / OIDC authorization server, browser sessions and the identity-asserting
reverse proxy.
"""
