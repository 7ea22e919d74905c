"""An emulated NOR flash device kept in one image file.

The model is the part of NOR flash a flash translation layer has to live with:

* the device is ``sectors`` sectors of ``sector_size`` bytes;
* ``erase(sector)`` sets every byte of one sector to 0xFF (the only way to set bits);
* ``program(offset, data)`` can only clear bits. Programming a byte whose new value has a 1
  where the flash holds a 0 is a bug in the caller and raises ``ProgramError`` (real NOR
  would silently store ``old & new``);
* ``sync()`` is the host's durability barrier (``fdatasync`` of the image file): what was
  programmed before it survives a host crash.

``program`` and ``erase`` are the only two calls that change the image, so a subclass can
cut the power after any byte or word (tests/crash does). Reads are ``pread`` calls on the
image file (a store in another process sees programmed bytes at once, through the page
cache). The image is deliberately not memory-mapped: a mapped file that another process
truncates kills the mapping process with SIGBUS on its next access, which no check can
rule out in between; a ``pread`` past the end just comes back short, which is reported as
``FlashError`` (the store turns it into CKR_DEVICE_ERROR). Writes check the image's size
first, so a truncated image is never silently extended with a hole either.

The image file is created with mode 0600 (its directory and missing parents, if created,
0700, whatever the umask), filled with 0xFF and fsync'ed under a temporary name, then
linked into place, so no process ever sees a half-created image.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from tokenport.backends.storage.paths import FileIdentity, make_private_dirs

ERASED = 0xFF
_FILL_CHUNK = 1 << 20


class FlashError(Exception):
    """A misuse of the flash model, or an image that does not fit the geometry."""


class ProgramError(FlashError):
    """A program operation tried to set a bit (0 -> 1): only an erase can do that."""


class NorFlash:
    """A NOR flash of ``sectors`` x ``sector_size`` bytes in the file ``path``."""

    def __init__(self, path: Path | str, sectors: int, sector_size: int) -> None:
        if sectors < 1 or sector_size < 1:
            raise FlashError("a flash needs at least one sector of at least one byte")
        self.path = Path(path)
        self.sectors = sectors
        self.sector_size = sector_size
        self.size = sectors * sector_size
        self._fd: int | None = None
        self._identity: FileIdentity | None = None

    def __repr__(self) -> str:
        return f"NorFlash({str(self.path)!r}, {self.sectors}, {self.sector_size})"

    # -- lifecycle ---------------------------------------------------------------------

    def open(self, *, create: bool = True) -> bool:
        """Open the image, creating an erased one if it is missing and ``create`` is set.

        Returns True when this call created the image. Raises OSError, or FlashError when
        the file does not have the size of this geometry.
        """
        if self._fd is not None:
            return False
        created = False
        if create and not self.path.exists():
            created = self._create()
        fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
        try:
            identity = FileIdentity.of_fd(self.path, fd)
            self._check_size(os.fstat(fd).st_size)
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._identity = fd, identity
        return created

    def verify(self) -> None:
        """FlashError unless the image path still names the open image file (not deleted,
        not replaced by another file) and it still has the size of its geometry. One
        ``stat``; the store calls it before every operation. (A device model that keeps
        no image file overrides it with its own health check.)"""
        identity = self._identity
        if identity is None:
            raise FlashError("flash is not open")
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            raise FlashError(f"flash image {self.path} was deleted") from None
        if not identity.same(info):
            raise FlashError(f"flash image {self.path} was replaced by another file")
        self._check_size(info.st_size)

    def _check_size(self, size: int) -> None:
        if size != self.size:
            raise FlashError(
                f"flash image {self.path} is {size} bytes; the configured geometry"
                f" ({self.sectors} sectors of {self.sector_size} bytes) needs {self.size}"
            )

    def _create(self) -> bool:
        directory = self.path.parent
        make_private_dirs(directory)
        tmp = directory / f".{self.path.name}.{secrets.token_hex(6)}.new"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            try:
                os.fchmod(fd, 0o600)
                block = bytes([ERASED]) * min(self.size, _FILL_CHUNK)
                done = 0
                while done < self.size:
                    done += os.write(fd, block[: self.size - done])
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                return False  # another process created it first: use theirs
            dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            return True
        finally:
            try:
                os.unlink(tmp)
            except OSError:
                pass

    def close(self) -> None:
        fd, self._fd, self._identity = self._fd, None, None
        if fd is not None:
            os.close(fd)

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    # -- the device --------------------------------------------------------------------

    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes at ``offset``; FlashError when the image file ended before
        them (it was truncated behind our back)."""
        self._check(offset, length)
        assert self._fd is not None
        data = os.pread(self._fd, length, offset)
        while len(data) < length:
            more = os.pread(self._fd, length - len(data), offset + len(data))
            if not more:
                raise FlashError(
                    f"flash image {self.path} ends at {offset + len(data)} bytes; the"
                    f" configured geometry needs {self.size} (was it truncated?)"
                )
            data += more
        return data

    def program(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        """Clear bits: afterwards the flash holds ``data`` at ``offset``."""
        raw = bytes(data)
        self._check(offset, len(raw))
        if not raw:
            return
        old = self.read(offset, len(raw))
        new_bits = int.from_bytes(raw, "little")
        if new_bits & ~int.from_bytes(old, "little"):
            raise ProgramError(f"programming at {offset:#x} would set bits (erase first)")
        self._write(offset, raw)

    def erase(self, sector: int) -> None:
        """Set every byte of ``sector`` to 0xFF."""
        if not 0 <= sector < self.sectors:
            raise FlashError(f"no sector {sector}")
        self._write(sector * self.sector_size, bytes([ERASED]) * self.sector_size)

    def sync(self) -> None:
        """Make everything programmed and erased so far durable."""
        if self._fd is None:
            raise FlashError("flash is not open")
        os.fdatasync(self._fd)

    def _write(self, offset: int, data: bytes) -> None:
        if self._fd is None:
            raise FlashError("flash is not open")
        # A pwrite past the end of a truncated image would extend it with a hole: never.
        self._check_size(os.fstat(self._fd).st_size)
        view = memoryview(data)
        while view:
            written = os.pwrite(self._fd, view, offset)
            view, offset = view[written:], offset + written

    def _check(self, offset: int, length: int) -> None:
        if self._fd is None:
            raise FlashError("flash is not open")
        if offset < 0 or length < 0 or offset + length > self.size:
            raise FlashError(f"range {offset:#x}+{length} is outside the flash")
