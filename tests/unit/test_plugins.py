"""tokenport.plugins: one list of tokenport's own ports (the entry point tables of
pyproject.toml), third-party ports found by entry point, and no scan of every installed
distribution for a name that is tokenport's own."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

from tokenport import config, plugins

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    plugins.clear_cache()
    yield
    plugins.clear_cache()


def _pyproject_tables() -> dict[str, dict[str, str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    tables: dict[str, dict[str, str]] = project["entry-points"]
    return tables


def _install(site: Path, dist: str, entry_points: str, modules: dict[str, str]) -> None:
    """A distribution with its metadata and modules in directory ``site``."""
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)
    for name, source in modules.items():
        (site / f"{name}.py").write_text(source)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory at the front of sys.path, as a site-packages would be."""
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    return path


def test_the_builtin_list_is_the_pyproject_entry_points_only() -> None:
    assert not hasattr(plugins, "BUILTIN")
    assert "tokenport.backends" not in (ROOT / "src/tokenport/plugins.py").read_text()
    tables = _pyproject_tables()
    for kind, group in plugins.GROUPS.items():
        assert dict(plugins.own_entry_points(group)) == tables[group]
        assert plugins.available(kind) == sorted(
            {*tables[group], *(e.name for e in metadata.entry_points(group=group))}
        )
    assert {"sqlite", "memory", "files", "flash"} <= set(tables["tokenport.storage"])


def test_every_own_entry_point_loads_its_factory() -> None:
    for kind, group in plugins.GROUPS.items():
        for name, reference in plugins.own_entry_points(group).items():
            factory = plugins.find(kind, name)
            module, _, attribute = reference.partition(":")
            assert factory.__module__ == module and factory.__name__ == attribute


def test_own_names_are_found_without_scanning_installed_distributions(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    scans: list[str] = []

    def entry_points(**selection: str) -> metadata.EntryPoints:
        scans.append(selection.get("group", "*"))
        return metadata.EntryPoints(())

    monkeypatch.setattr(metadata, "entry_points", entry_points)
    assert plugins.find("storage", "sqlite").__module__ == "tokenport.backends.storage.sqlite"
    assert plugins.exists("crypto", "pyca") and plugins.exists("entropy", "os")
    (tmp_path / "tokenport.toml").write_text(
        '[store]\nbackend = "files"\n[store.files]\ndirectory = "objs"\n'
        '[crypto]\nbackend = "pyca"\n[crypto.pyca]\n'
        '[entropy]\nsource = "nv-seed"\nseed_file = "seed"\n'
    )
    loaded = config.load_config({"TOKENPORT_HOME": str(tmp_path), "HOME": str(tmp_path)})
    assert (loaded.store_backend, loaded.crypto_backend) == ("files", "pyca")
    assert loaded.entropy.source == "nv-seed"
    assert scans == []
    assert not plugins.exists("storage", "no-such-store")  # only now: a third-party name
    assert not plugins.exists("storage", "another-missing-store")  # read once per process
    assert scans == ["tokenport.storage"]


def test_a_third_party_entry_point_is_found(site: Path) -> None:
    _install(
        site,
        "thirdparty-plugin",
        "[tokenport.storage]\nthirdparty-store = thirdparty_plugin_mod:make_store\n"
        "[tokenport.entropy_sources]\nthirdparty-rng = thirdparty_plugin_mod:Factories.rng\n",
        {"thirdparty_plugin_mod": (
            "def make_store(store_dir, options):\n    return ('store', store_dir)\n"
            "class Factories:\n    @staticmethod\n    def rng(entropy):\n        return 'rng'\n"
        )},
    )
    assert plugins.exists("storage", "thirdparty-store")
    assert "thirdparty-store" in plugins.available("storage")
    assert plugins.find("storage", "thirdparty-store")(Path("/x"), {}) == ("store", Path("/x"))
    assert plugins.find("entropy", "thirdparty-rng")(None) == "rng"
    assert not plugins.exists("crypto", "thirdparty-store")  # groups stay apart
    with pytest.raises(plugins.PluginNotFound, match="thirdparty-store"):
        plugins.find("crypto", "thirdparty-store")


def test_a_third_party_name_cannot_replace_an_own_port(site: Path) -> None:
    _install(site, "evil-plugin", "[tokenport.storage]\nsqlite = evil_plugin_mod:boom\n",
             {"evil_plugin_mod": "raise AssertionError('imported')\n"})
    assert plugins.find("storage", "sqlite").__module__ == "tokenport.backends.storage.sqlite"


def test_stale_tokenport_metadata_does_not_override_the_source_tree(site: Path) -> None:
    """Metadata of another tokenport copy (installed from elsewhere) names ports the running
    tree does not have: the running tree's pyproject.toml wins, and the stale entries are not
    taken for third-party plug-ins either."""
    _install(site, "tokenport", "[tokenport.storage]\nsqlite = gone_module:from_config\n"
             "gone = gone_module:from_config\n", {})
    assert metadata.distribution("tokenport").entry_points.select(name="gone")
    assert plugins.find("storage", "sqlite").__module__ == "tokenport.backends.storage.sqlite"
    assert not plugins.exists("storage", "gone")
    assert "gone" not in plugins.available("storage")


def test_without_a_source_tree_the_own_list_is_the_distribution_metadata(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugins, "PYPROJECT", tmp_path / "no-such-dir" / "pyproject.toml")
    monkeypatch.setattr(plugins, "PACKAGE_SITE", tmp_path / "no-such-dir")  # not installed
    _install(site, "tokenport", "[tokenport.storage]\nmemory-only = own_mod:make\n"
             "[tokenport.crypto]\nfake = own_mod:make\n",
             {"own_mod": "def make(*args):\n    return 'own'\n"})
    assert dict(plugins.own_entry_points("tokenport.storage")) == {"memory-only": "own_mod:make"}
    assert dict(plugins.own_entry_points("tokenport.entropy_sources")) == {}
    assert plugins.find("crypto", "fake")() == "own"


def test_a_pyproject_of_another_project_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "pyproject.toml"
    other.write_text('[project]\nname = "other"\n[project.entry-points."tokenport.storage"]\n'
                     'x = "x:y"\n')
    monkeypatch.setattr(plugins, "PYPROJECT", other)
    assert "x" not in plugins.own_entry_points("tokenport.storage")
    assert not plugins.exists("storage", "x")


def test_the_source_tree_pyproject_is_read_once_per_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads: list[Path] = []
    real = plugins._source_tree_tables

    def counting(pyproject: Path) -> object:
        reads.append(pyproject)
        return real(pyproject)

    monkeypatch.setattr(plugins, "_source_tree_tables", counting)
    for _ in range(3):
        plugins.find("storage", "memory")
        plugins.exists("entropy", "fixed")
    assert reads == [plugins.PYPROJECT]


@pytest.mark.parametrize("kind", sorted(plugins.GROUPS))
def test_an_unknown_name_names_what_is_available(kind: str) -> None:
    with pytest.raises(plugins.PluginNotFound) as raised:
        plugins.find(kind, "no-such-port")
    for name in plugins.own_entry_points(plugins.GROUPS[kind]):
        assert repr(name) not in str(raised.value) and name in str(raised.value)




def test_an_installed_dist_info_is_read_without_importlib_metadata(tmp_path: Path) -> None:
    """An installed tokenport reads its own list from the one tokenport-*.dist-info beside
    the package; two of them (a broken upgrade) leave the choice to importlib.metadata."""
    info = tmp_path / "tokenport-9.9.dist-info"
    info.mkdir()
    (info / "entry_points.txt").write_text(
        "[tokenport.storage]\nsqlite = some.module:from_config\n\n"
        "[tokenport.crypto]\n# a comment\npyca = other.module:from_config\n"
        "[console_scripts]\ntokenport = tokenport.cli:main\n",
        encoding="utf-8",
    )
    tables = plugins._dist_info_tables(tmp_path)
    assert tables is not None
    assert dict(tables["tokenport.storage"]) == {"sqlite": "some.module:from_config"}
    assert dict(tables["tokenport.crypto"]) == {"pyca": "other.module:from_config"}
    assert dict(tables["tokenport.entropy_sources"]) == {}
    (tmp_path / "tokenport-1.0.dist-info").mkdir()
    assert plugins._dist_info_tables(tmp_path) is None
    assert plugins._dist_info_tables(tmp_path / "missing") is None
