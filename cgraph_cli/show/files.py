"""Writing files so that nothing is lost: a temporary file beside the target, renamed over it."""

from __future__ import annotations

import os
import stat
import tempfile


class SameFile(Exception):
    """The target is the file the graph was read from."""


def is_source(path: str, source: tuple[int, int] | None) -> bool:
    """Whether `path` names the file `source` (its (device, inode)), however it is spelled."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return source is not None and (st.st_dev, st.st_ino) == source


def write_atomically(path: str, data: bytes, source: tuple[int, int] | None = None) -> None:
    """Write `data` to `path` whole or not at all; refuse when `path` is the file `source`
    (its (device, inode)), however the path is spelled.

    A regular file (or a new one) is written to a temporary file in the same
    directory and renamed over the target, so a failure (a full disk, a file
    size limit) leaves the old file as it was and no temporary behind. A
    device or pipe (/dev/null, /dev/full, a FIFO) cannot be replaced: it is
    written directly.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    if st is not None and source is not None and (st.st_dev, st.st_ino) == source:
        raise SameFile(path)
    if st is not None and not stat.S_ISREG(st.st_mode):
        with open(path, "wb") as f:
            f.write(data)
        return
    directory, base = os.path.split(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=directory or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
