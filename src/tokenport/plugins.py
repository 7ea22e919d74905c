"""Ports as plug-ins: storage, crypto and entropy ports chosen by name in the config file.

A port can live in its own installable package: it registers a factory under one of the
entry point groups below, and the config names it, the way the porting guide's build files
select a platform's port. tokenport's own backends register the same way (pyproject.toml).
When tokenport runs from a source tree without installed metadata, its built-in backends
are still found through BUILTIN.

Factories:

* ``tokenport.storage``: ``factory(store_dir: Path, options: Mapping[str, Any]) ->
  ObjectStore`` -- ``options`` is the ``[store.<name>]`` table of the config file;
* ``tokenport.crypto``: ``factory(options: Mapping[str, Any]) -> CryptoBackend`` --
  ``options`` is the ``[crypto.<name>]`` table;
* ``tokenport.entropy_sources``: ``factory(entropy: EntropyConfig) -> EntropySource``.

A factory raises ValueError or TypeError for options it cannot use; the config layer turns
that into one clear ConfigError line.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib import metadata
from typing import Any

GROUPS = {
    "storage": "tokenport.storage",
    "crypto": "tokenport.crypto",
    "entropy": "tokenport.entropy_sources",
}

BUILTIN: dict[tuple[str, str], str] = {
    ("storage", "sqlite"): "tokenport.backends.storage_sqlite:from_config",
    ("storage", "memory"): "tokenport.backends.storage_memory:from_config",
    ("storage", "files"): "tokenport.backends.storage_files:from_config",
    ("storage", "flash"): "tokenport.backends.storage_flash:from_config",
    ("crypto", "pyca"): "tokenport.backends.crypto.pyca:from_config",
    ("entropy", "os"): "tokenport.backends.entropy_sources:os_from_config",
    ("entropy", "nv-seed"): "tokenport.backends.entropy_sources:nv_seed_from_config",
    ("entropy", "fixed"): "tokenport.backends.entropy_sources:fixed_from_config",
}
"""tokenport's own backends (also registered as entry points in pyproject.toml)."""


class PluginNotFound(LookupError):
    """No installed package provides a port of that kind and name."""


def _load(reference: str) -> Callable[..., Any]:
    module, _, attribute = reference.partition(":")
    factory: Callable[..., Any] = getattr(importlib.import_module(module), attribute)
    return factory


def find(kind: str, name: str) -> Callable[..., Any]:
    """The factory registered for port ``kind`` ("storage", "crypto", "entropy") ``name``."""
    builtin = BUILTIN.get((kind, name))
    for entry in metadata.entry_points(group=GROUPS[kind], name=name):
        try:
            factory: Callable[..., Any] = entry.load()
        except ImportError:
            if builtin is None:
                raise
            break  # metadata of an older install names a module this tree has moved
        return factory
    if builtin is not None:
        return _load(builtin)
    raise PluginNotFound(
        f"no {kind} port named {name!r} is installed (available: {', '.join(available(kind))})"
    )


def available(kind: str) -> list[str]:
    """The names of the installed ports of one kind."""
    names = {entry.name for entry in metadata.entry_points(group=GROUPS[kind])}
    names |= {name for (k, name) in BUILTIN if k == kind}
    return sorted(names)
