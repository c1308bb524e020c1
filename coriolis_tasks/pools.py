"""Worker pool size and prefetch per queue, chosen from what each stage costs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pool:
    """One queue's pool: processes, messages each holds ahead, and why."""

    concurrency: int
    prefetch: int
    cost: str


# Measured on a 2-core host (tests/bench): a disk stage of a small disk is latency-bound (its
# qemu-nbd and qemu-img start-ups wait, they do not compute), a big one is CPU- and I/O-bound in
# threads and subprocesses whatever the pool size, so the disk pools are sized for the waits.
# Stages are long and acked late: one message per process (prefetch 1), so a redelivered or
# queued stage goes to whichever process is free. Bookkeeping tasks are milliseconds long: their
# pools take several messages per broker round trip.
POOLS: dict[str, Pool] = {
    "export": Pool(4, 1, "I/O: reads a source library or waits on a remote cloud"),
    "convert": Pool(4, 1, "one pass: hashing threads plus qemu-nbd processes; small disks wait on start-ups"),
    "morph": Pool(1, 1, "a libguestfs appliance: memory and CPU heavy"),
    "import": Pool(4, 1, "waits on the destination cloud's uploads and APIs"),
    "boot": Pool(2, 1, "waits on the booted guest (a TCG boot is CPU heavy: kept small)"),
    "control": Pool(4, 8, "bookkeeping, milliseconds each"),
    "plan": Pool(2, 4, "asks the source for each instance, then builds the canvas"),
}
DEFAULT = Pool(2, 1, "unknown queue")


def pool_for(queues: list[str]) -> Pool:
    """The pool of a worker consuming ``queues``: the largest of theirs, the smallest prefetch."""
    pools = [POOLS.get(q, DEFAULT) for q in queues] or [DEFAULT]
    return Pool(max(p.concurrency for p in pools), min(p.prefetch for p in pools), "; ".join(p.cost for p in pools))
