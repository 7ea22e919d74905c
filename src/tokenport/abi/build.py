"""cffi embedding build of the PKCS #11 shared library ``tokenport._pkcs11`` (PKCS #11 v2.40 s5).

Run by setuptools through ``cffi_modules=["src/tokenport/abi/build.py:ffibuilder"]``
(``pip install .``, or ``python setup.py build_ext --inplace`` for a development build).
It can also be run directly: ``python src/tokenport/abi/build.py [outdir]``.

The C text is assembled from three pieces:

* ``pkcs11_v240.h`` and ``pkcs11_v3.h``: the PKCS #11 types and the three function lists
  (v2.40, 3.0, 3.2); also the cdef, so Python sees the same structs;
* ``shim.c``: libpython promotion, interpreter start-up, fork handlers, and the entry
  points that must work without Python (C_GetFunctionList, C_GetInterface*);
* generated here: one exported ``C_*`` wrapper per function-list entry. Each wrapper makes
  sure Python is up and tokenport.abi.entry imported, returning CKR_GENERAL_ERROR if not,
  and then calls a static ``extern "Python"`` callback inside the call bracket of shim.c
  (the GIL, and the cyclic GC paused so that no host finalizer runs inside the call). No
  cffi-generated function is exported: cffi's own exports return 0 (CKR_OK) when
  initialisation fails. Then the three function tables (C_GetInterfaceList offers them).
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import sysconfig
from pathlib import Path
from types import ModuleType

from cffi import FFI

HERE = Path(__file__).resolve().parent
HEADER = HERE / "pkcs11_v240.h"
HEADER_V3 = HERE / "pkcs11_v3.h"
SHIM = HERE / "shim.c"

# The other CK_GCM_PARAMS layout, without ulIvBits (the v2.40 header before its errata and
# several deployed clients); the ABI tells the two apart by ulParameterLen.
GCM_NO_IVBITS = """
typedef struct TP_GCM_PARAMS_NO_IVBITS {
    CK_BYTE_PTR pIv;
    CK_ULONG ulIvLen;
    CK_BYTE_PTR pAAD;
    CK_ULONG ulAADLen;
    CK_ULONG ulTagBits;
} TP_GCM_PARAMS_NO_IVBITS;
"""

# PKCS #11 v3.0 key derivation parameters, under tokenport's own names (a 3.0 header may
# define the CK_ names later): CK_HKDF_PARAMS, CK_PKCS5_PBKD2_PARAMS2, and the v2.40
# CK_PKCS5_PBKD2_PARAMS whose ulPasswordLen is a pointer (see abi/marshal.py for how the two
# PBKD2 layouts are told apart).
KDF_PARAMS = """
typedef struct TP_HKDF_PARAMS {
    CK_BBOOL bExtract;
    CK_BBOOL bExpand;
    CK_MECHANISM_TYPE prfHashMechanism;
    CK_ULONG ulSaltType;
    CK_BYTE_PTR pSalt;
    CK_ULONG ulSaltLen;
    CK_OBJECT_HANDLE hSaltKey;
    CK_BYTE_PTR pInfo;
    CK_ULONG ulInfoLen;
} TP_HKDF_PARAMS;
typedef struct TP_PKCS5_PBKD2_PARAMS2 {
    CK_ULONG saltSource;
    CK_VOID_PTR pSaltSourceData;
    CK_ULONG ulSaltSourceDataLen;
    CK_ULONG iterations;
    CK_ULONG prf;
    CK_VOID_PTR pPrfData;
    CK_ULONG ulPrfDataLen;
    CK_UTF8CHAR_PTR pPassword;
    CK_ULONG ulPasswordLen;
} TP_PKCS5_PBKD2_PARAMS2;
typedef struct TP_PKCS5_PBKD2_PARAMS {
    CK_ULONG saltSource;
    CK_VOID_PTR pSaltSourceData;
    CK_ULONG ulSaltSourceDataLen;
    CK_ULONG iterations;
    CK_ULONG prf;
    CK_VOID_PTR pPrfData;
    CK_ULONG ulPrfDataLen;
    CK_UTF8CHAR_PTR pPassword;
    CK_ULONG_PTR ulPasswordLen;
} TP_PKCS5_PBKD2_PARAMS;
"""

INIT_CODE = """\
import sys
from tokenport.abi.entry import attach
_module = sys.modules["tokenport._pkcs11"]
_module.library = attach(_module.ffi, _module.lib)
"""
"""Runs in the embedded interpreter on the first call of any C_* wrapper. cffi has just
registered *this* copy of the module under its name; the callbacks are attached to it
explicitly, so a second copy of the library in one process gets its own callbacks and its
own Library. An exception here makes every wrapper return CKR_GENERAL_ERROR."""

_MEMBER = re.compile(r"CK_RV\s*\(\s*\*\s*(C_\w+)\s*\)\s*\((.*?)\)\s*;", re.DOTALL)


def _load_functions() -> ModuleType:
    """Load functions.py by path: the package itself is not importable at build time."""
    spec = importlib.util.spec_from_file_location("_tokenport_abi_functions", HERE / "functions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def function_signatures(header: str, struct: str = "CK_FUNCTION_LIST") -> list[tuple[str, str]]:
    """(name, C parameter list) of every member of function list ``struct``, in header order."""
    start = header.index(f"struct {struct} {{")
    body = header[start : header.index("};", start)]
    return [(name, " ".join(params.split())) for name, params in _MEMBER.findall(body)]


def param_names(params: str) -> list[str]:
    """The parameter names of a C parameter list such as ``CK_ULONG a, CK_BYTE_PTR b``."""
    if params.strip() in ("", "void"):
        return []
    return [p.split()[-1].lstrip("*") for p in params.split(",")]


def _c_string(text: str) -> str:
    """A C string literal for ``text``."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _cdef_text(header: str) -> str:
    """The header without preprocessor lines (cffi's cdef does not run the preprocessor)."""
    return "\n".join(line for line in header.splitlines() if not line.lstrip().startswith("#"))


def _python_config() -> dict[str, str]:
    """Facts about the interpreter the module embeds, fixed at build time."""
    if not sysconfig.get_config_var("Py_ENABLE_SHARED"):
        raise RuntimeError("tokenport's PKCS #11 module needs a Python built with --enable-shared")
    soname = sysconfig.get_config_var("INSTSONAME") or sysconfig.get_config_var("LDLIBRARY")
    libdir = sysconfig.get_config_var("LIBDIR")
    bindir = sysconfig.get_config_var("BINDIR")
    version = sysconfig.get_config_var("VERSION")
    return {
        "soname": str(soname),
        "libdir": str(libdir),
        # setuptools does not apply cffi's embedding fix: link libpython explicitly
        "library": f"python{sys.version_info.major}.{sys.version_info.minor}{sys.abiflags}",
        "base_python": os.path.join(str(bindir), f"python{version}"),
    }


def _suffix(major: int, minor: int) -> str:
    """The C name suffix of the table of version major.minor (none for v2.40)."""
    return "" if (major, minor) == (2, 40) else f"_{major}_{minor}"


def make_ffibuilder() -> FFI:
    """The configured FFI builder for ``tokenport._pkcs11``."""
    functions = _load_functions()
    header = HEADER.read_text(encoding="utf-8") + "\n" + HEADER_V3.read_text(encoding="utf-8")
    signatures = function_signatures(header, "CK_FUNCTION_LIST_3_2")
    for struct, expected in (
        ("CK_FUNCTION_LIST", functions.FUNCTION_LIST),
        ("CK_FUNCTION_LIST_3_0", functions.FUNCTION_LIST_3_0),
        ("CK_FUNCTION_LIST_3_2", functions.FUNCTION_LIST_3_2),
    ):
        listed = function_signatures(header, struct)
        if tuple(name for name, _ in listed) != expected:
            raise RuntimeError(f"the headers' {struct} differs from abi/functions.py")
        if listed != signatures[: len(listed)]:
            raise RuntimeError(f"the headers' {struct} signatures differ from CK_FUNCTION_LIST_3_2")
    if not functions.NOT_SUPPORTED <= set(functions.PYTHON_FUNCTIONS):
        raise RuntimeError("abi/functions.py NOT_SUPPORTED names an entry without a Python handler")
    by_session = {n for n, p in signatures if p.startswith("CK_SESSION_HANDLE hSession")}
    if by_session != set(functions.SESSION_FUNCTIONS):
        raise RuntimeError("abi/functions.py SESSION_FUNCTIONS differs from the headers")
    prefix = functions.CALLBACK_PREFIX
    python_sigs = [(n, p) for n, p in signatures if n in functions.PYTHON_FUNCTIONS]
    config = _python_config()

    builder = FFI()
    externs = "\n".join(f'extern "Python" CK_RV {prefix}{n}({p});' for n, p in python_sigs)
    builder.cdef(
        _cdef_text(header)
        + GCM_NO_IVBITS
        + KDF_PARAMS
        + externs
        + "\nvoid tp_mark_attached(void);\nvoid tp_gc_pause_after_fork_child(void);"
        + "\nvoid tp_gate_close(void);\nvoid tp_gate_open(void);\nvoid tp_gate_after_fork_child(void);"
    )

    forward = "\n".join(f"static CK_RV {prefix}{n}({p});" for n, p in python_sigs)
    def gated(name: str, call: str) -> str:
        if name in functions.UNGATED_FUNCTIONS:
            return call
        return f"    tp_gate_enter();\n{call}    tp_gate_leave();\n"

    wrappers = "\n".join(
        f"TP_EXPORT CK_RV {n}({p})\n{{\n"
        f"    CK_RV rv;\n    PyGILState_STATE gil = PyGILState_UNLOCKED;\n    int paused;\n\n"
        f"    if (!tp_ensure_python())\n        return TP_CKR_GENERAL_ERROR;\n"
        + gated(
            n,
            f"    paused = tp_call_enter(&gil);\n"
            f"    rv = {prefix}{n}({', '.join(param_names(p))});\n"
            f"    tp_call_leave(paused, gil);\n",
        )
        + "    return rv;\n}\n"
        for n, p in python_sigs
    )
    tables = []
    for (major, minor), members in functions.INTERFACES:
        struct = "CK_FUNCTION_LIST" if (major, minor) == functions.CRYPTOKI_VERSION else (
            f"CK_FUNCTION_LIST_{major}_{minor}")
        # C_GetInfo reports the version of the list it is reached through (functions.py)
        entries = ",\n".join(
            f"    tp_C_GetInfo_{major}_{minor}"
            if n == "C_GetInfo" and (major, minor) != functions.CRYPTOKI_VERSION
            else f"    {n}"
            for n in members
        )
        tables.append(
            f"static {struct} tp_function_list{_suffix(major, minor)} = "
            f"{{\n    {{{major}, {minor}}},\n{entries}\n}};"
        )
    source = "\n".join(
        [
            f"#define TP_LIBPYTHON_SONAME {_c_string(config['soname'])}",
            f"#define TP_BASE_PYTHON {_c_string(config['base_python'])}",
            f"#define TP_INTERFACE_NAME {_c_string(functions.INTERFACE_NAME)}",
            header,
            GCM_NO_IVBITS,
            KDF_PARAMS,
            forward,
            SHIM.read_text(encoding="utf-8"),
            "/* ---- generated: one wrapper per Python-implemented entry ---- */",
            wrappers,
            *tables,
        ]
    )
    builder.set_source(
        "tokenport._pkcs11",
        source,
        py_limited_api=False,
        library_dirs=[config["libdir"]],
        extra_compile_args=["-fvisibility=hidden"],
        extra_link_args=[
            "-Wl,-z,nodelete",
            "-Wl,-Bsymbolic",
            f"-Wl,-rpath,{config['libdir']}",
        ],
        libraries=[config["library"], "dl", "pthread"],
    )
    builder.embedding_init_code(INIT_CODE)
    return builder


ffibuilder = make_ffibuilder()

if __name__ == "__main__":
    ffibuilder.compile(tmpdir=sys.argv[1] if len(sys.argv) > 1 else ".", verbose=True)
