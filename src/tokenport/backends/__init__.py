"""Backends: concrete implementations of the ports (tokenport.ports).

Storage (the PAL): ``storage_sqlite`` (the default durable store) and ``storage_memory``
(the in-memory twin used by unit tests and the ``memory`` backend). Crypto: ``crypto_pyca``.
Entropy: ``entropy_os``. Each backend translates its own library's exceptions into
tokenport.errors, once.
"""
