"""The kernel's answer to bad input: an errno, a message, and what it logged (include/uapi/asm-generic/errno-base.h)."""
from __future__ import annotations

import errno as _errno
import os

__all__ = ["KernelError", "EINVAL", "EBUSY", "ENOENT", "EPERM", "ENOMEM", "EEXIST", "E2BIG",
           "EINTR", "EACCES", "ENOSPC", "EHWPOISON", "EOPNOTSUPP", "ENXIO", "ENODEV", "ERANGE", "errno_name"]

EINVAL = _errno.EINVAL
EBUSY = _errno.EBUSY
ENOENT = _errno.ENOENT
EPERM = _errno.EPERM
ENOMEM = _errno.ENOMEM
EEXIST = _errno.EEXIST
E2BIG = _errno.E2BIG
EINTR = _errno.EINTR
EACCES = _errno.EACCES
ENOSPC = _errno.ENOSPC
ENXIO = _errno.ENXIO
ENODEV = _errno.ENODEV
EOPNOTSUPP = _errno.EOPNOTSUPP
ERANGE = _errno.ERANGE
EHWPOISON = getattr(_errno, "EHWPOISON", 133)


# Linux defines ENOTSUP as EOPNOTSUPP (95); the kernel's code and logs say EOPNOTSUPP.
_NAMES = {EOPNOTSUPP: "EOPNOTSUPP"}


def errno_name(err: int) -> str:
    """The symbolic name of an errno number, e.g. ``"EBUSY"`` (the kernel's spelling: ``"EOPNOTSUPP"``)."""
    return _NAMES.get(err) or _errno.errorcode.get(err, str(err))


class KernelError(OSError):
    """A failed kernel operation: ``errno`` and ``strerror`` as userspace sees them, plus the kernel log lines.

    The model raises it wherever the kernel returns a negative errno; the machine is left
    as it was before the operation, except for what the kernel itself leaves behind (an
    interrupted offline's migrated pages, the sections of a hot-add that failed part-way).
    """

    def __init__(self, err: int, message: str = "", log: list[str] | None = None,
                 function: str = "") -> None:
        super().__init__(err, os.strerror(err))
        self.message = message            # what the kernel logged or the reason it returned
        self.log = list(log or [])        # dmesg lines the failed operation printed (no timestamps)
        self.function = function          # the kernel function that returned the error
        # the kernel would not have returned by itself (offline_pages() retries until the
        # writer gets a signal): the model stops where the signal would end it
        self.until_signal = False

    @property
    def errno_name(self) -> str:
        """The errno's symbolic name, e.g. ``"EBUSY"``."""
        return errno_name(self.errno)

    def __str__(self) -> str:
        where = f" in {self.function}()" if self.function else ""
        msg = f": {self.message}" if self.message else ""
        return f"[Errno {self.errno}] {self.errno_name} ({self.strerror}){where}{msg}"
