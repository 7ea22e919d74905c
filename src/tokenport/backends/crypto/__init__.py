"""Crypto port backends (tokenport.ports.crypto)."""
