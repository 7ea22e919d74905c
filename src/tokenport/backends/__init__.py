"""Backends: concrete implementations of the ports (tokenport.ports), grouped by port and
registered by name as entry points (pyproject.toml, read by tokenport.plugins).

``storage/`` (the PAL): ``sqlite`` (the default), ``files`` (one file per object, atomic
replace), ``flash`` (an emulated NOR flash image with a log of records, garbage collection
and wear levelling) and ``memory`` (the in-memory twin used by unit tests); ``base`` holds
what files and flash share. ``crypto/``: the crypto port on pyca/cryptography. ``entropy/``:
``sources`` (os, nv-seed, fixed) feeding ``drbg_source`` (SP 800-90A DRBGs, ``drbg``, with
SP 800-90B health tests, ``health``). Each backend translates its own library's exceptions
into tokenport.errors, once.
"""
