"""Ports as plug-ins: storage, crypto and entropy ports chosen by name in the config file.

A port can live in its own installable package: it registers a factory under one of the
entry point groups below, and the config names it, the way the porting guide's build files
select a platform's port. tokenport's own backends register the same way, and the
``[project.entry-points.*]`` tables of pyproject.toml are the only list of them:

* run from a source tree (``PYTHONPATH=src``, an editable install, the compiled module next
  to the package), they are read from the pyproject.toml of that tree, which is what the
  running code was built from (installed metadata, if any, may come from another copy);
* run from an installed package, from tokenport's own distribution metadata, which the
  build wrote from the same tables.

Finding a port looks at tokenport's own list first and reads nothing else for its names;
only a name that is not one of tokenport's own is looked up among the entry points of every
installed distribution (third-party plug-ins). Both lists are read once per process.

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

import functools
import importlib
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

DISTRIBUTION = "tokenport"

GROUPS = MappingProxyType(
    {
        "storage": "tokenport.storage",
        "crypto": "tokenport.crypto",
        "entropy": "tokenport.entropy_sources",
    }
)

PACKAGE_SITE = Path(__file__).resolve().parent.parent
"""The directory holding the running package: site-packages when installed, <root>/src in a
source tree."""

PYPROJECT = PACKAGE_SITE.parent / "pyproject.toml"
"""Where a source tree (src layout) keeps the entry point tables: <root>/src/tokenport/."""


class PluginNotFound(LookupError):
    """No installed package provides a port of that kind and name."""


def find(kind: str, name: str) -> Callable[..., Any]:
    """The factory registered for port ``kind`` ("storage", "crypto", "entropy") ``name``."""
    group = GROUPS[kind]
    reference = own_entry_points(group).get(name)
    if reference is not None:
        return _load(reference)
    entry = _third_party(group).get(name)
    if entry is not None:
        factory: Callable[..., Any] = entry.load()
        return factory
    raise PluginNotFound(
        f"no {kind} port named {name!r} is installed (available: {', '.join(available(kind))})"
    )


def exists(kind: str, name: str) -> bool:
    """Whether a port of this kind and name is registered (without importing it)."""
    group = GROUPS[kind]
    return name in own_entry_points(group) or name in _third_party(group)


def available(kind: str) -> list[str]:
    """The names of the installed ports of one kind (tokenport's own and third-party)."""
    group = GROUPS[kind]
    return sorted({*own_entry_points(group), *_third_party(group)})


def own_entry_points(group: str) -> Mapping[str, str]:
    """tokenport's own entry points of one group: name -> ``module:attribute``."""
    return _own_tables().get(group, MappingProxyType({}))


def clear_cache() -> None:
    """Read the entry points again at the next lookup (a plug-in installed at run time)."""
    _own_tables.cache_clear()
    _third_party.cache_clear()


@functools.cache
def _own_tables() -> Mapping[str, Mapping[str, str]]:
    tables = _source_tree_tables(PYPROJECT)
    return tables if tables is not None else _distribution_tables()


def _source_tree_tables(pyproject: Path) -> Mapping[str, Mapping[str, str]] | None:
    """The ``[project.entry-points.*]`` tables of tokenport's pyproject.toml, or None when
    ``pyproject`` is missing or belongs to another project."""
    try:
        text = pyproject.read_text(encoding="utf-8")
    except OSError:
        return None
    import tomllib  # only a source tree pays for it

    project = tomllib.loads(text).get("project", {})
    if project.get("name") != DISTRIBUTION:
        return None
    tables = project.get("entry-points", {})
    return MappingProxyType(
        {group: MappingProxyType(dict(tables.get(group, {}))) for group in GROUPS.values()}
    )


def _distribution_tables() -> Mapping[str, Mapping[str, str]]:
    """The entry points of tokenport's own installed distribution (one metadata file).

    First the ``tokenport-*.dist-info`` beside the running package: its
    ``entry_points.txt`` is read directly (a start of the library need not import
    importlib.metadata), and a copy of tokenport installed elsewhere on ``sys.path`` can
    never lend the running one its list. Other layouts (egg-info, editable installs) go
    through importlib.metadata.
    """
    direct = _dist_info_tables(PACKAGE_SITE)
    if direct is not None:
        return direct
    from importlib import metadata

    try:
        entries = metadata.distribution(DISTRIBUTION).entry_points
    except metadata.PackageNotFoundError:
        entries = metadata.EntryPoints(())
    return MappingProxyType(
        {
            group: MappingProxyType({entry.name: entry.value for entry in entries.select(group=group)})
            for group in GROUPS.values()
        }
    )


def _dist_info_tables(site: Path) -> Mapping[str, Mapping[str, str]] | None:
    """The entry point tables of the one ``tokenport-<version>.dist-info`` in ``site``, or
    None when there is none, or more than one (then importlib.metadata decides)."""
    try:
        infos = [p for p in site.iterdir()
                 if p.name.startswith(DISTRIBUTION + "-") and p.name.endswith(".dist-info")]
    except OSError:
        return None
    if len(infos) != 1:
        return None
    try:
        text = (infos[0] / "entry_points.txt").read_text(encoding="utf-8")
    except OSError:
        return None
    tables: dict[str, dict[str, str]] = {}
    section: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = tables.setdefault(line[1:-1].strip(), {})
        elif section is not None and "=" in line:
            name, _, value = line.partition("=")
            section[name.strip()] = value.strip()
    return MappingProxyType(
        {group: MappingProxyType(dict(tables.get(group, {}))) for group in GROUPS.values()}
    )


@functools.cache
def _third_party(group: str) -> Mapping[str, EntryPoint]:
    """Entry points of ``group`` from every installed distribution other than tokenport
    (scanned once per process, and only when a name is not one of tokenport's own)."""
    from importlib import metadata

    found: dict[str, EntryPoint] = {}
    for entry in metadata.entry_points(group=group):
        dist = entry.dist
        if dist is not None and dist.name == DISTRIBUTION:
            continue  # tokenport's own list is read above (installed metadata may be stale)
        found.setdefault(entry.name, entry)
    return MappingProxyType(found)


def _load(reference: str) -> Callable[..., Any]:
    """Import ``module:attribute[.attribute] [extras]`` (the entry point value syntax)."""
    module, _, attributes = reference.partition("[")[0].strip().partition(":")
    target: Any = importlib.import_module(module.strip())
    for attribute in filter(None, attributes.strip().split(".")):
        target = getattr(target, attribute)
    factory: Callable[..., Any] = target
    return factory
