"""The module loaded by a C host (tests/abi/client.c) the way p11-kit loads modules:
dlopen(RTLD_LOCAL | RTLD_NOW), C_GetFunctionList, then calls through the list."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, run_client

CKR_OK = "0x0"
CKR_GENERAL_ERROR = "0x5"
CKR_ARGUMENTS_BAD = "0x7"
CKR_BUFFER_TOO_SMALL = "0x150"
CKR_CRYPTOKI_NOT_INITIALIZED = "0x190"


def test_c_host_initializes_and_draws_random_bytes(
    client: str, module_path: str, token_home: Path
) -> None:
    proc, out = run_client(client, module_path, "basic")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out["C_GetFunctionList"] == CKR_OK
    assert out["version"] == "2.40"
    assert out["C_Initialize"] == CKR_OK, proc.stderr
    assert out["C_GetInfo"] == CKR_OK
    assert out["cryptoki"] == "2.40"
    assert out["C_GetSlotList"] == CKR_OK
    assert int(out["slots"]) >= 1
    assert out["C_OpenSession"] == CKR_OK, proc.stderr
    assert out["C_GenerateRandom"] == CKR_OK
    assert out["random"] != "00" * 16
    assert out["C_CloseSession"] == CKR_OK
    assert out["C_Finalize"] == CKR_OK
    assert out["after_finalize"] == CKR_CRYPTOKI_NOT_INITIALIZED


def test_info_text_fields_are_blank_padded(client: str, module_path: str, token_home: Path) -> None:
    proc, _ = run_client(client, module_path, "basic")
    lines = {
        line.split("=", 1)[0]: line.split("=", 1)[1]
        for line in proc.stdout.splitlines()
        if line.startswith(("manufacturer=", "description="))
    }
    assert set(lines) == {"manufacturer", "description"}, proc.stdout + proc.stderr
    for value in lines.values():
        field = value[:-1].encode()  # 32 bytes, then the '|' end marker
        assert len(field) == 32 and b"\x00" not in field
        assert field == field.rstrip(b" ").ljust(32, b" ")


def test_interfaces_work_without_python(client: str, module_path: str) -> None:
    """v3.0 s5.4: three "PKCS 11" interfaces, 3.2, 3.0 and 2.40 in that order (the first is
    the default); none fork-safe; the 2.40 one is C_GetFunctionList's list."""
    proc, out = run_client(client, module_path, "iface")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("list_count=0x0 3") == 1
    assert "list_short=0x150 3" in proc.stdout
    assert "list=0x0 3" in proc.stdout
    assert "iface0 name=PKCS 11 version=3.2 flags=0x0 same240=0" in proc.stdout
    assert "iface1 name=PKCS 11 version=3.0 flags=0x0 same240=0" in proc.stdout
    assert "iface2 name=PKCS 11 version=2.40 flags=0x0 same240=1" in proc.stdout
    assert out["list_null_count"] == CKR_ARGUMENTS_BAD
    assert "get_240=0x0 same=1" in proc.stdout
    assert "get_default=0x0 same=0 list0=1" in proc.stdout
    assert "get_30=0x0 list1=1" in proc.stdout
    assert "get_32=0x0 list0=1" in proc.stdout
    for key in ("get_31", "get_unknown", "get_flags", "get_null"):
        assert out[key] == CKR_ARGUMENTS_BAD, key


def test_fork_while_another_thread_is_inside_the_module(
    client: str, module_path: str, token_home: Path
) -> None:
    """s6.7.1: the child must call C_Initialize; until then CKR_CRYPTOKI_NOT_INITIALIZED.
    A host thread is inside the module (holding or waiting for the GIL) at every fork; the
    pthread_atfork handlers keep the child from deadlocking (each child has an alarm)."""
    proc, out = run_client(client, module_path, "fork", "20", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out["C_Initialize"] == CKR_OK, proc.stderr
    summary = next(line for line in proc.stdout.splitlines() if line.startswith("forks="))
    assert summary == "forks=20 ok=20 hung=0 failed=0 worker_calls_nonzero=1", proc.stdout
    assert out["C_Finalize"] == CKR_OK


def test_concurrent_first_calls_and_concurrent_use(client: str, module_path: str) -> None:
    """Eight threads start the interpreter at once (one start-up, all see the library not
    initialized), then call concurrently after C_Initialize."""
    proc, out = run_client(client, module_path, "threads")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out["C_Initialize"] == CKR_OK
    assert "first_not_initialized=8 calls_ok=1600" in proc.stdout
    assert out["C_Finalize"] == CKR_OK


def test_dlclose_then_reopen_and_exit_cleanly(
    client: str, module_path: str, token_home: Path
) -> None:
    proc, out = run_client(client, module_path, "dlclose")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out["C_Initialize"] == CKR_OK
    assert out["C_Finalize"] == CKR_OK
    assert out["reopen_C_Initialize"] == CKR_OK
    assert out["reopen_C_Finalize"] == CKR_OK
    assert proc.stdout.rstrip().endswith("exiting")


@pytest.fixture
def broken_module(tmp_path: Path, module_path: str) -> str:
    """A copy of the module next to a tokenport package whose import raises."""
    package = tmp_path / "x" / "tokenport"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise RuntimeError('tokenport cannot be imported')\n")
    copy = package / Path(module_path).name
    shutil.copy2(module_path, copy)
    return str(copy)


def _without_pythonpath() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


def test_startup_failure_gives_general_error_never_ok(
    client: str, broken_module: str, token_home: Path
) -> None:
    proc, out = run_client(client, broken_module, "broken", env=_without_pythonpath())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out["C_GetFunctionList"] == CKR_OK
    assert out["C_Initialize"] == CKR_GENERAL_ERROR
    assert "entries_ok=0 entries_general_error=67 entries_other=0" in proc.stdout
    assert "C_GetFunctionList_again=0x0 same=1" in proc.stdout
    assert "tokenport cannot be imported" in proc.stderr


def test_startup_failure_keeps_the_interfaces(client: str, broken_module: str) -> None:
    proc, _ = run_client(client, broken_module, "iface", env=_without_pythonpath())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "get_240=0x0 same=1" in proc.stdout


@pytest.fixture
def unattached_module(tmp_path: Path, module_path: str) -> str:
    """A copy of the module next to a tokenport package whose attach() attaches nothing."""
    package = tmp_path / "z" / "tokenport"
    (package / "abi").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "abi" / "__init__.py").write_text("")
    (package / "abi" / "entry.py").write_text("def attach(ffi, lib):\n    return None\n")
    copy = package / Path(module_path).name
    shutil.copy2(module_path, copy)
    return str(copy)


def test_callbacks_left_unattached_give_general_error(
    client: str, unattached_module: str, token_home: Path
) -> None:
    """cffi returns 0 from a callback nobody attached; the C side must not trust that."""
    proc, out = run_client(client, unattached_module, "broken", env=_without_pythonpath())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out["C_Initialize"] == CKR_GENERAL_ERROR
    assert "entries_ok=0 entries_general_error=67 entries_other=0" in proc.stdout


def test_two_copies_in_one_process_are_two_libraries(
    client: str, module_path: str, tmp_path: Path, token_home: Path
) -> None:
    """Two module files in one host share the interpreter (cffi) but not their state."""
    package = tmp_path / "y" / "tokenport"
    package.mkdir(parents=True)
    second = package / Path(module_path).name
    shutil.copy2(module_path, second)
    proc, out = run_client(client, module_path, "two", str(second))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out["first_C_Initialize"] == CKR_OK
    assert out["second_C_GetInfo"] == CKR_CRYPTOKI_NOT_INITIALIZED
    assert out["second_C_Initialize"] == CKR_OK
    assert out["second_C_GetInfo_after"] == CKR_OK
    assert out["second_exercise"] == "0", proc.stdout
    assert out["first_C_Finalize"] == CKR_OK
    assert out["second_still"] == CKR_OK
    assert out["second_C_Finalize"] == CKR_OK


def _copy_project(dest: Path) -> Path:
    """The buildable project (no build artefacts), for pip to install from."""
    dest.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        if (REPO / name).exists():
            shutil.copy2(REPO / name, dest / name)
    shutil.copytree(
        REPO / "src",
        dest / "src",
        ignore=shutil.ignore_patterns("*.so", "__pycache__", "*.egg-info", "_pkcs11.c"),
    )
    return dest


@pytest.mark.slow
def test_installed_in_a_fresh_virtualenv_and_loaded_by_a_c_host(
    client: str, tmp_path: Path, token_home: Path
) -> None:
    """No system site-packages: the module must set up the venv's interpreter itself."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    project = _copy_project(tmp_path / "project")
    env = _without_pythonpath()
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(project)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    located = subprocess.run(
        [str(python), "-c", "import tokenport.abi as a; print(a.module_path())"],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(tmp_path),
        check=True,
    ).stdout.strip()
    assert Path(located).is_relative_to(venv)
    proc, out = run_client(client, located, "basic", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out["C_Initialize"] == CKR_OK, proc.stderr
    assert int(out["slots"]) >= 1
    assert out["C_GenerateRandom"] == CKR_OK
    assert Path(out["cffi_backend"]).is_relative_to(venv), out["cffi_backend"]
    mapped = [
        line[len("mapped=") :] for line in proc.stdout.splitlines() if line.startswith("mapped=")
    ]
    assert mapped and all(Path(p).is_relative_to(venv) for p in mapped), mapped
