"""backends/storage/base.py: what the files and flash backends share, written once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenport import errors
from tokenport.backends.storage import files, flash
from tokenport.backends.storage.base import CountedStore, check_options, plain_name

SHARED = ("initialize", "find_object", "get_object_value_cleanup", "enumerate_objects",
          "generation", "close", "_ready", "_after_fork", "_view", "_check_writable", "_guard")


@pytest.mark.parametrize("store", [files.FileObjectStore, flash.FlashObjectStore])
def test_files_and_flash_run_the_shared_code(store: type) -> None:
    assert issubclass(store, CountedStore)
    for name in SHARED:
        assert getattr(store, name) is getattr(CountedStore, name), name


@pytest.mark.parametrize(
    ("factory", "options", "message"),
    [
        (files.from_config, {"directory": "x", "sectors": 4},
         "unknown option(s) sectors (allowed: directory, read_only)"),
        (flash.from_config, {"zeta": 1, "alpha": 2},
         "unknown option(s) alpha, zeta (allowed: sectors, sector_size, image, read_only)"),
        (files.from_config, {"directory": "a/b"}, "directory must be a plain directory name"),
        (files.from_config, {"directory": ".."}, "directory must be a plain directory name"),
        (flash.from_config, {"image": ""}, "image must be a plain file name"),
        (flash.from_config, {"image": 7}, "image must be a plain file name"),
    ],
)
def test_store_options_are_checked_once_for_both(
    factory: object, options: dict[str, object], message: str, tmp_path: Path
) -> None:
    assert callable(factory)
    with pytest.raises(ValueError) as raised:
        factory(tmp_path, options)
    assert str(raised.value) == message
    assert not any(tmp_path.iterdir())  # refused before anything was created


def test_option_helpers() -> None:
    check_options({"a": 1, "read_only": True}, ("a", "read_only"))
    assert plain_name({}, "image", "tokenport.flash", "bad") == "tokenport.flash"
    assert plain_name({"image": "x.img"}, "image", "d", "bad") == "x.img"
    with pytest.raises(ValueError, match="^bad$"):
        plain_name({"image": "."}, "image", "d", "bad")


@pytest.mark.parametrize(
    "make",
    [
        lambda p, ro: files.FileObjectStore(p / "objects", read_only=ro),
        lambda p, ro: flash.FlashObjectStore(p / "img", 4, 256, read_only=ro),
    ],
)
def test_closed_and_read_only_stores_refuse(make: object, tmp_path: Path) -> None:
    assert callable(make)
    store = make(tmp_path, False)
    handle = store.save_object(b"a", b"1")
    store.close()
    with pytest.raises(errors.DeviceError, match="used after close"):
        store.find_object(b"a")
    reader = make(tmp_path, True)
    assert reader.find_object(b"a") == handle
    assert reader.get_object_value(handle) == (b"1", False)
    with pytest.raises(errors.DeviceError, match="opened read-only"):
        reader.save_object(b"b", b"2")
    reader.close()
