"""tokenport.config: which file, which store directory, which values, and the errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import tokenport
from tokenport import errors
from tokenport.backends.storage.memory import MemoryObjectStore
from tokenport.backends.storage.sqlite import SqliteObjectStore
from tokenport.config import (
    Config,
    ConfigError,
    config_search_paths,
    load_config,
    open_store,
)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    return {"HOME": str(home)}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- defaults and precedence -----------------------------------------------------------


def test_defaults(env: dict[str, str], home: Path) -> None:
    config = load_config(env)
    assert config == Config(store_dir=home / ".local/share/tokenport")
    assert config.store_backend == "sqlite"
    assert config.source is None
    assert (config.max_pin_attempts, config.pin_kdf_iterations) == (10, 200_000)
    assert (config.min_pin_len, config.max_pin_len) == (4, 255)


def test_xdg_data_home(env: dict[str, str], tmp_path: Path) -> None:
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    assert load_config(env).store_dir == tmp_path / "data" / "tokenport"


@pytest.mark.parametrize("value", ["", "relative/data"])
def test_xdg_data_home_empty_or_relative_is_ignored(
    env: dict[str, str], home: Path, value: str
) -> None:
    env["XDG_DATA_HOME"] = value
    assert load_config(env).store_dir == home / ".local/share/tokenport"


def test_default_config_file(env: dict[str, str], home: Path) -> None:
    path = write(home / ".config/tokenport/tokenport.toml", "[token]\nmax_pin_attempts = 3\n")
    config = load_config(env)
    assert config.source == path
    assert config.max_pin_attempts == 3


def test_xdg_config_home(env: dict[str, str], home: Path, tmp_path: Path) -> None:
    write(home / ".config/tokenport/tokenport.toml", "[token]\nmax_pin_attempts = 3\n")
    path = write(tmp_path / "xdg/tokenport/tokenport.toml", "[token]\nmax_pin_attempts = 4\n")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    config = load_config(env)
    assert (config.source, config.max_pin_attempts) == (path, 4)


def test_tokenport_home_chooses_store_and_file(
    env: dict[str, str], home: Path, tmp_path: Path
) -> None:
    write(home / ".config/tokenport/tokenport.toml", "[token]\nmax_pin_attempts = 3\n")
    tp_home = tmp_path / "tp"
    path = write(tp_home / "tokenport.toml", "[token]\nmax_pin_attempts = 5\n")
    env["TOKENPORT_HOME"] = str(tp_home)
    config = load_config(env)
    assert (config.source, config.max_pin_attempts) == (path, 5)
    assert config.store_dir == tp_home


def test_tokenport_home_without_file_falls_back_to_xdg_file(
    env: dict[str, str], home: Path, tmp_path: Path
) -> None:
    path = write(home / ".config/tokenport/tokenport.toml", "[store]\npath = '/elsewhere'\n")
    env["TOKENPORT_HOME"] = str(tmp_path / "tp")
    config = load_config(env)
    assert config.source == path
    assert config.store_dir == tmp_path / "tp"  # TOKENPORT_HOME beats [store] path


def test_tokenport_conf_beats_everything(env: dict[str, str], home: Path, tmp_path: Path) -> None:
    write(home / ".config/tokenport/tokenport.toml", "[token]\nmax_pin_attempts = 3\n")
    write(tmp_path / "tp/tokenport.toml", "[token]\nmax_pin_attempts = 5\n")
    conf = write(tmp_path / "explicit.toml", "[token]\nmax_pin_attempts = 7\n")
    env["TOKENPORT_HOME"] = str(tmp_path / "tp")
    env["TOKENPORT_CONF"] = str(conf)
    config = load_config(env)
    assert (config.source, config.max_pin_attempts) == (conf, 7)
    assert config.store_dir == tmp_path / "tp"


def test_tokenport_conf_must_exist(env: dict[str, str], tmp_path: Path) -> None:
    env["TOKENPORT_CONF"] = str(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="TOKENPORT_CONF=.*missing.toml: no such file"):
        load_config(env)
    env["TOKENPORT_CONF"] = str(tmp_path)
    with pytest.raises(ConfigError, match="is not a file"):
        load_config(env)


def test_empty_variables_count_as_unset(env: dict[str, str], home: Path) -> None:
    env.update(TOKENPORT_CONF="", TOKENPORT_HOME="", XDG_CONFIG_HOME="")
    assert load_config(env) == Config(store_dir=home / ".local/share/tokenport")


def test_store_path_from_file(env: dict[str, str], tmp_path: Path, home: Path) -> None:
    conf = tmp_path / "etc" / "tokenport.toml"
    env["TOKENPORT_CONF"] = str(conf)
    write(conf, "[store]\npath = 'tokens'\n")
    assert load_config(env).store_dir == tmp_path / "etc" / "tokens"  # relative to the file
    write(conf, "[store]\npath = '../var/tokens'\n")
    assert load_config(env).store_dir == tmp_path / "var" / "tokens"
    write(conf, "[store]\npath = '~/my tokens'\n")
    assert load_config(env).store_dir == home / "my tokens"
    write(conf, f"[store]\npath = '{tmp_path / 'abs'}'\n")
    assert load_config(env).store_dir == tmp_path / "abs"


def test_full_file(env: dict[str, str], tmp_path: Path) -> None:
    conf = write(
        tmp_path / "tokenport.toml",
        """
        [store]
        backend = "memory"
        path = "/srv/tokens"

        [token]
        max_pin_attempts = 5
        pin_kdf_iterations = 600000
        min_pin_len = 6
        max_pin_len = 64
        """.replace("        ", ""),
    )
    env["TOKENPORT_CONF"] = str(conf)
    assert load_config(env) == Config(
        store_backend="memory",
        store_dir=Path("/srv/tokens"),
        max_pin_attempts=5,
        pin_kdf_iterations=600_000,
        min_pin_len=6,
        max_pin_len=64,
        source=conf,
    )


def test_empty_file_is_all_defaults(env: dict[str, str], home: Path) -> None:
    path = write(home / ".config/tokenport/tokenport.toml", "")
    assert load_config(env) == Config(store_dir=home / ".local/share/tokenport", source=path)


def test_default_environ_is_os_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TOKENPORT_CONF", raising=False)
    monkeypatch.setenv("TOKENPORT_HOME", str(tmp_path / "tp"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nothing"))
    assert load_config().store_dir == tmp_path / "tp"


def test_search_paths(env: dict[str, str], home: Path, tmp_path: Path) -> None:
    assert config_search_paths(env) == [home / ".config/tokenport/tokenport.toml"]
    env.update(
        TOKENPORT_CONF=str(tmp_path / "c.toml"),
        TOKENPORT_HOME=str(tmp_path / "tp"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg"),
    )
    assert config_search_paths(env) == [
        tmp_path / "c.toml",
        tmp_path / "tp" / "tokenport.toml",
        tmp_path / "xdg" / "tokenport" / "tokenport.toml",
    ]


# -- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("[store]\nbackend = 'no-such-backend'\n", "[store] backend"),
        ("[store]\nbackend = 1\n", "[store] backend"),
        ("[store]\npath = 5\n", "[store] path"),
        ("[store]\npath = ''\n", "[store] path"),
        ("[store]\npaht = '/x'\n", "[store] paht: unknown key"),
        ("[token]\nmax_pin_attempts = '10'\n", "[token] max_pin_attempts: must be an integer"),
        ("[token]\nmax_pin_attempts = true\n", "[token] max_pin_attempts: must be an integer"),
        ("[token]\nmax_pin_attempts = 0\n", "[token] max_pin_attempts: must be at least 1"),
        ("[token]\nmin_pin_len = 4.5\n", "[token] min_pin_len: must be an integer"),
        ("[token]\nmin_pin_len = 0\n", "[token] min_pin_len"),
        ("[token]\nmin_pin_len = 10\nmax_pin_len = 8\n", "min_pin_len (10) is greater"),
        ("[token]\nso_pin = '1234'\n", "[token] so_pin: unknown key"),
        ("[tokens]\nmax_pin_attempts = 3\n", "[tokens]: unknown section"),
        ("store = 5\n", "store: must be a table"),
        ("max_pin_attempts = 3\n", "[max_pin_attempts]: unknown section"),
        ("[store\nbackend = 'sqlite'\n", "invalid TOML"),
        ("[token]\nmax_pin_attempts = 3\nmax_pin_attempts = 4\n", "invalid TOML"),
    ],
)
def test_bad_files(env: dict[str, str], tmp_path: Path, text: str, names: str) -> None:
    conf = write(tmp_path / "bad.toml", text)
    env["TOKENPORT_CONF"] = str(conf)
    with pytest.raises(ConfigError) as info:
        load_config(env)
    message = str(info.value)
    assert message.startswith(str(conf) + ": "), message
    assert names in message, message
    assert "\n" not in message
    assert isinstance(info.value, errors.GeneralError)


def test_not_utf8(env: dict[str, str], tmp_path: Path) -> None:
    conf = tmp_path / "bad.toml"
    conf.write_bytes(b"[store]\npath = '\xff\xfe'\n")
    env["TOKENPORT_CONF"] = str(conf)
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(env)


@pytest.mark.parametrize("iterations", [0, 1000, 199_999])
def test_weak_pin_kdf_is_refused(env: dict[str, str], tmp_path: Path, iterations: int) -> None:
    conf = write(tmp_path / "t.toml", f"[token]\npin_kdf_iterations = {iterations}\n")
    env["TOKENPORT_CONF"] = str(conf)
    with pytest.raises(ConfigError, match="pin_kdf_iterations: must be at least 200000"):
        load_config(env)
    with pytest.raises(ConfigError, match="pin_kdf_iterations"):
        Config(store_dir=tmp_path, pin_kdf_iterations=iterations)


def test_minimum_pin_kdf_is_accepted(env: dict[str, str], tmp_path: Path) -> None:
    conf = write(tmp_path / "t.toml", "[token]\npin_kdf_iterations = 200000\n")
    env["TOKENPORT_CONF"] = str(conf)
    assert load_config(env).pin_kdf_iterations == 200_000


def test_config_checks_values_when_built_directly(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        Config(store_dir=tmp_path, store_backend="no-such-backend")
    with pytest.raises(ConfigError):
        Config(store_dir=tmp_path, min_pin_len=9, max_pin_len=8)
    with pytest.raises(ConfigError):
        Config(store_dir=tmp_path, max_pin_attempts=True)


def test_config_is_frozen(tmp_path: Path) -> None:
    config = Config(store_dir=tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.max_pin_attempts = 1  # type: ignore[misc]


def test_store_inside_the_package_is_refused(env: dict[str, str]) -> None:
    env["TOKENPORT_HOME"] = str(Path(tokenport.__file__).parent / "store")
    with pytest.raises(ConfigError, match="inside the installed tokenport package"):
        load_config(env)


# -- open_store ------------------------------------------------------------------------


def test_open_store_sqlite(tmp_path: Path) -> None:
    store = open_store(Config(store_dir=tmp_path / "tokens"))
    assert isinstance(store, SqliteObjectStore)
    assert store.path == tmp_path / "tokens" / "tokenport.sqlite3"
    store.initialize()
    store.save_object(b"x", b"1")
    store.close()
    assert (tmp_path / "tokens" / "tokenport.sqlite3").is_file()


def test_open_store_memory(tmp_path: Path) -> None:
    store = open_store(Config(store_dir=tmp_path / "tokens", store_backend="memory"))
    assert isinstance(store, MemoryObjectStore)
    assert not (tmp_path / "tokens").exists()
