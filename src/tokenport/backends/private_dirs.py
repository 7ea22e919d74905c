"""Store directories readable by their owner only (mode 0700), whatever the umask.

Every storage backend creates the directories it needs through ``make_private_dir``: each
directory it creates -- the store directory, the backend's own sub-directory, and any
missing parent (as the XDG Base Directory specification asks for data directories) -- is
made with mode 0700 and then chmod'ed to 0700, because ``mkdir``'s mode is filtered by the
process umask. Directories that already exist are left as they are: their owner chose
their mode (the files inside are 0600 in any case).
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_DIR_MODE = 0o700


def make_private_dir(directory: Path) -> None:
    """Create ``directory`` and its missing parents, each with mode 0700; raises OSError."""
    missing: list[Path] = []
    current = directory
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            if not path.is_dir():
                raise
            continue  # created concurrently by another process: theirs is 0700 too
        os.chmod(path, PRIVATE_DIR_MODE)
