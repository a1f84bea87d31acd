"""One writer per run directory (split from silo.rundir): `.lock` holds the writer's pid, host and start.

A live holder on this host is a one-line error naming its pid; a dead holder's lock, a half-written one
or one whose pid is no pid is taken over; the lock is released at exit. A holder on another host (a
run directory on a shared file system) cannot be asked whether it lives: the holder touches the lock
every HEARTBEAT seconds, and a lock from another host is refused while it was touched within STALE
seconds, taken over after (its host crashed, or a container that held it is gone). RunDirError
(re-exported by silo.rundir) is every run-directory failure, the lock's included.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import socket
import threading
import time
from pathlib import Path

log = logging.getLogger("silo.rundir")
HEARTBEAT = 30.0  # seconds between the holder's touches of its lock
STALE = 600.0  # a lock from another host untouched this long is taken over (20 heartbeats: clocks may differ)


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
            _refuse_if_held(directory, lock_file, who, me["host"])
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
        _beat(lock_file)
        return
    raise RunDirError(f"cannot lock run directory {directory}: the lock keeps changing hands")


def _refuse_if_held(directory: Path, lock_file: Path, who: dict | None, host: str) -> None:
    """Raise RunDirError if the lock's holder may still be writing: alive on this host, or on another host
    and its lock touched within STALE seconds (its liveness cannot be checked from here)."""
    if who is None:
        return
    if who.get("host", host) == host:
        if pid_alive(int(who["pid"])):
            raise RunDirError(f"{directory} is being written by another silo process (pid {who['pid']}); "
                              "wait for it to finish or stop it")
        return
    try:
        age = time.time() - lock_file.stat().st_mtime
    except OSError:
        return  # gone meanwhile: the next attempt creates it
    if age < STALE:
        raise RunDirError(f"{directory} is being written by silo on host {who['host']} (pid {who['pid']}; its lock "
                          f"was refreshed {max(age, 0):.0f} s ago); wait for it, or remove {lock_file} if that "
                          f"run is gone (a lock untouched for {STALE:.0f} s is taken over)")


def _beat(lock_file: Path) -> None:
    """Touch the lock every HEARTBEAT seconds while this process holds it (a daemon thread: it dies with us)."""
    pid = os.getpid()

    def run() -> None:
        while True:
            time.sleep(HEARTBEAT)
            who = holder(lock_file)
            if os.getpid() != pid or who is None or who.get("pid") != pid:
                return  # released, taken over, or a forked child: not ours to keep alive
            try:
                os.utime(lock_file)
            except OSError:
                return

    threading.Thread(target=run, name="silo-lock-heartbeat", daemon=True).start()


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
