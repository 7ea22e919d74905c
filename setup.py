"""Build hook: compiles the PKCS #11 shared library (cffi embedding) into the package.

All metadata lives in pyproject.toml; setuptools needs this file only for the
``cffi_modules`` keyword, which cffi's setuptools integration provides.
"""

from setuptools import setup

setup(cffi_modules=["src/tokenport/abi/build.py:ffibuilder"])
