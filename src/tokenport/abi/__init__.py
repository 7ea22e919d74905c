"""The C ABI of tokenport: a PKCS #11 v2.40 shared library built with cffi embedding.

``module_path()`` names the compiled library, the file PKCS #11 applications load
(``pkcs11-tool --module "$(python -c 'import tokenport.abi as a; print(a.module_path())')"``).
Importing this package does not load or start the library.
"""

from __future__ import annotations

import importlib.machinery
from pathlib import Path

__all__ = ["ModuleNotBuilt", "header_path", "module_path"]

_PACKAGE_DIR = Path(__file__).resolve().parent.parent
_STEM = "_pkcs11"


class ModuleNotBuilt(FileNotFoundError):
    """The compiled PKCS #11 library is missing from the tokenport package directory."""


def module_path() -> str:
    """The absolute path of the compiled PKCS #11 library inside the tokenport package.

    Raises ModuleNotBuilt when the package was not built (e.g. imported from a source tree
    without ``python setup.py build_ext --inplace``; ``pip install .`` builds it).
    """
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = _PACKAGE_DIR / f"{_STEM}{suffix}"
        if candidate.is_file():
            return str(candidate)
    raise ModuleNotBuilt(
        f"the tokenport PKCS #11 library ({_STEM}*.so) is not built in {_PACKAGE_DIR}; "
        "install the package with 'pip install .' or build it in place with "
        "'python setup.py build_ext --inplace'"
    )


def header_path() -> str:
    """The absolute path of the PKCS #11 v2.40 header shipped with the package."""
    return str(Path(__file__).resolve().parent / "pkcs11_v240.h")
