"""The "tokenport" logger, made at its first use.

Importing :mod:`logging` costs a few milliseconds, and C_Initialize never logs; the modules
that may log a warning import ``log`` from here instead of calling ``logging.getLogger``.
Messages never carry a key, a PIN or plaintext (see DESIGN.md, "Security").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from logging import Logger

LOGGER_NAME = "tokenport"


class _LoggerOnFirstUse:
    """Forwards every attribute to ``logging.getLogger(LOGGER_NAME)``, importing logging then."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        import logging

        return getattr(logging.getLogger(LOGGER_NAME), name)


log = cast("Logger", _LoggerOnFirstUse())
"""Use as a :class:`logging.Logger`: ``log.warning("...", arg)``."""
