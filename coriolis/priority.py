"""CPU priority of batch processes: worker pools yield the CPU to the API when both want it.

A process's niceness only ranks it against the processes of its own scheduling group. Where the
kernel groups processes by session (``sched_autogroup_enabled``, the default of desktop and many
server kernels, used whenever the CPU cgroup controller does not place the process elsewhere) a
worker started in a session of its own (systemd, a supervisor, a terminal) competes with the API as
one group against another, whatever its niceness: the group's own niceness (``/proc/self/autogroup``,
sched(7)) is what ranks the two. So a session leader lowers both; a worker sharing its session with
the API (``coriolis all-in-one``) lowers its own niceness only, which is what ranks it there.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

MAX_NICENESS = 19
AUTOGROUP = Path("/proc/self/autogroup")


def niceness() -> int:
    """This process's niceness."""
    return os.getpriority(os.PRIO_PROCESS, 0)


def autogroup_niceness(path: Path = AUTOGROUP) -> int | None:
    """The niceness of this process's session group, or None where the kernel keeps no such groups."""
    try:
        text = path.read_text()  # "/autogroup-98 nice 0"
    except OSError:
        return None
    parts = text.split()
    return int(parts[-1]) if len(parts) >= 3 and parts[-2] == "nice" else None


def lower(by: int, autogroup: Path = AUTOGROUP) -> int:
    """Add ``by`` to this process's niceness (and to its session group's, when it leads the session).

    Only ever lowers the priority (``by`` <= 0 changes nothing), so an unprivileged process can do it
    and a process started nicer than asked stays as nice. Children started afterwards (a prefork
    pool's processes, qemu-img) inherit it.

    Args:
        by: niceness to add, 0..19 (bigger is clamped to 19).

    Returns:
        The niceness the process has now.
    """
    if by <= 0:
        return niceness()
    os.setpriority(os.PRIO_PROCESS, 0, min(MAX_NICENESS, niceness() + by))
    group = autogroup_niceness(autogroup)
    if group is not None and os.getsid(0) == os.getpid() and group < MAX_NICENESS:
        # our own session's group (only this pool and its children are in it) yields as much to its peers
        try:
            autogroup.write_text(str(min(MAX_NICENESS, group + by)))
        except OSError as exc:  # a read-only /proc (some containers): the process niceness still holds
            log.warning("cannot lower the scheduling group's priority by %s: %s", by, exc)
    return niceness()
