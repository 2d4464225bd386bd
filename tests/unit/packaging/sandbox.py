"""Run a command under the seccomp rules systemd would load for spiffebind.service.

systemd is not PID 1 here, so ``systemctl start`` cannot show whether the daemon survives its
sandbox. This launcher recreates the kernel side of three unit settings, as systemd 252 builds
them with libseccomp, then execs the command (filters survive execve):

- ``SystemCallFilter=``: an allow list; any other system call kills the process with SIGSYS.
  That is stricter than the unit, whose ``SystemCallErrorNumber=EPERM`` would only fail the
  call, so a quiet EPERM cannot hide here.
- ``RestrictAddressFamilies=``: ``socket()`` with another family fails with EAFNOSUPPORT.
- ``MemoryDenyWriteExecute=``: writable+executable ``mmap``, executable ``mprotect`` and
  ``pkey_mprotect``, and ``shmat`` with SHM_EXEC fail with EPERM.

Usage: ``python sandbox.py SPEC_JSON COMMAND...``; the spec names the audit architecture, the
allowed syscall numbers, the allowed address families, and the numbers of the syscalls the
argument rules inspect. Before exec it checks that a W+X mapping is really refused, so a filter
that did not load cannot pass for one that did.
"""

from __future__ import annotations

import ctypes
import errno
import json
import mmap
import os
import struct
import sys
from typing import Any

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
RET_KILL_PROCESS = 0x80000000
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
LD_ABS_W = 0x20
JEQ_K = 0x15
JGE_K = 0x35
AND_K = 0x54
RET_K = 0x06
NR, ARCH = 0, 4
X32_SYSCALL_BIT = 0x40000000
PROT_WRITE, PROT_EXEC, SHM_EXEC = 0x2, 0x4, 0o100000

Insn = tuple[int, int, int, int]


def _arg(index: int) -> int:
    """Offset of an argument's low 32 bits in struct seccomp_data (little-endian)."""
    return 16 + 8 * index


def _masked_rule(nr: int, arg: int, mask: int, err: int) -> list[Insn]:
    """Fail ``nr`` with ``err`` when all ``mask`` bits are set in argument ``arg``; other
    calls fall through to the next rule, and finally to the allow list."""
    return [
        (LD_ABS_W, 0, 0, NR),
        (JEQ_K, 0, 4, nr),
        (LD_ABS_W, 0, 0, _arg(arg)),
        (AND_K, 0, 0, mask),
        (JEQ_K, 0, 1, mask),
        (RET_K, 0, 0, RET_ERRNO | err),
    ]


def _family_rule(nr: int, families: list[int]) -> list[Insn]:
    """Fail ``socket()`` with EAFNOSUPPORT unless its family is listed (then fall through)."""
    count = len(families)
    checks = [(JEQ_K, count - i, 0, family) for i, family in enumerate(families)]
    return [
        (LD_ABS_W, 0, 0, NR),
        (JEQ_K, 0, count + 2, nr),
        (LD_ABS_W, 0, 0, _arg(0)),
        *checks,
        (RET_K, 0, 0, RET_ERRNO | errno.EAFNOSUPPORT),
    ]


def build(spec: dict[str, Any]) -> list[Insn]:
    numbers = spec["numbers"]
    program: list[Insn] = [
        (LD_ABS_W, 0, 0, ARCH),
        (JEQ_K, 1, 0, spec["arch"]),
        (RET_K, 0, 0, RET_KILL_PROCESS),
        (LD_ABS_W, 0, 0, NR),
        (JGE_K, 0, 1, X32_SYSCALL_BIT),
        (RET_K, 0, 0, RET_KILL_PROCESS),
        *_family_rule(numbers["socket"], spec["families"]),
    ]
    if spec["deny_write_execute"]:
        program += _masked_rule(numbers["mmap"], 2, PROT_WRITE | PROT_EXEC, errno.EPERM)
        program += _masked_rule(numbers["mprotect"], 2, PROT_EXEC, errno.EPERM)
        program += _masked_rule(numbers["pkey_mprotect"], 2, PROT_EXEC, errno.EPERM)
        program += _masked_rule(numbers["shmat"], 2, SHM_EXEC, errno.EPERM)
    program.append((LD_ABS_W, 0, 0, NR))
    for nr in sorted(set(spec["allow"])):
        program += [(JEQ_K, 0, 1, nr), (RET_K, 0, 0, RET_ALLOW)]
    program.append((RET_K, 0, 0, RET_KILL_PROCESS))
    return program


class _Fprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_char_p))


def install(program: list[Insn]) -> None:
    code = b"".join(struct.pack("=HBBI", *insn) for insn in program)
    prog = _Fprog(len(program), code)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP")


def _write_execute_refused() -> bool:
    try:
        mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    except PermissionError:
        return True
    return False


def main(argv: list[str]) -> None:
    spec = json.loads(argv[1])
    install(build(spec))
    if spec["deny_write_execute"] and not _write_execute_refused():
        sys.exit("sandbox: a W+X mapping was allowed; the filter is not active")
    os.execv(argv[2], argv[2:])


if __name__ == "__main__":
    main(sys.argv)
