"""tokenport: a PKCS #11 (Cryptoki) token written in Python, loadable as a PKCS #11 module."""

__version__ = "0.1.0"
