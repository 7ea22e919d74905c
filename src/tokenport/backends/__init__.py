"""Backends: concrete implementations of the ports (tokenport.ports), registered by name
(tokenport.plugins).

Storage (the PAL): ``storage_sqlite`` (the default), ``storage_files`` (one file per
object, atomic replace), ``storage_flash`` (an emulated NOR flash image with a log of
records, garbage collection and wear levelling) and ``storage_memory`` (the in-memory twin
used by unit tests). Crypto: ``crypto_pyca``. Entropy: ``entropy_sources`` (os, nv-seed,
fixed) feeding ``entropy_drbg`` (SP 800-90A DRBGs with SP 800-90B health tests). Each
backend translates its own library's exceptions into tokenport.errors, once.
"""
