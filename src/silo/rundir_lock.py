"""One writer per run directory (split from silo.rundir): `.lock` holds the writer's pid, host and start.

A live holder on this host is a one-line error naming its pid; a dead holder's lock, a half-written one
or one whose pid is no pid is taken over; the lock is released at exit. RunDirError (re-exported by
silo.rundir) is every run-directory failure, the lock's included.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import socket
import time
from pathlib import Path

log = logging.getLogger("silo.rundir")


class RunDirError(Exception):
    """A run directory that cannot be read or written; the message says what and where."""


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def acquire(directory: Path, lock_file: Path) -> None:
    """Become the only writer of `directory`; a process that already holds the lock keeps it."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunDirError(f"cannot write run directory {directory}: {e.strerror or e}") from e
    me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
    for _ in range(3):
        try:
            fd = os.open(lock_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            who = holder(lock_file)
            if who is not None and who.get("pid") == os.getpid():
                return  # already ours (several commands in one process)
            if who is not None and pid_alive(int(who.get("pid", 0))) and who.get("host") == me["host"]:
                raise RunDirError(f"{directory} is being written by another silo process (pid {who['pid']}); "
                                  "wait for it to finish or stop it") from None
            log.warning("taking over the stale lock of %s (holder %s is gone)", directory, who)
            try:
                lock_file.unlink(missing_ok=True)
            except OSError as e:  # e.g. a directory named .lock
                raise RunDirError(f"cannot take over the lock {lock_file}: {e.strerror or e}; "
                                  "remove it if no silo process is writing the run") from None
            continue
        except OSError as e:
            raise RunDirError(f"cannot lock run directory {directory}: {e.strerror or e}") from e
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(me))
        atexit.register(release, lock_file)
        return
    raise RunDirError(f"cannot lock run directory {directory}: the lock keeps changing hands")


def holder(lock_file: Path) -> dict | None:
    """The lock's holder record, or None if nobody validly holds it."""
    try:
        who = json.loads(lock_file.read_text() or "{}")
    except (OSError, ValueError):
        return None  # half-written or unreadable: a writer died while taking it
    ok = isinstance(who, dict) and isinstance(who.get("pid"), int) and 0 < who["pid"] < 2**31
    return who if ok else None  # a pid that is no pid (a string, 1e30, -5): nobody holds it


def release(lock_file: Path) -> None:
    """Remove the lock if this process holds it."""
    who = holder(lock_file)
    if who is not None and who.get("pid") == os.getpid():
        lock_file.unlink(missing_ok=True)
