"""Crypto port backends: ``pyca`` (pyca/cryptography, the host's) and ``fake`` (stdlib-only, deterministic, NOT cryptography: for unit tests of code that uses the port)."""
