"""A byte-rate limiter for the stub's synthetic transfers."""

import time


class Throttle:
    """Sleeps so that ``add(n)`` calls never exceed ``mbps`` MiB/s (0: unlimited)."""

    def __init__(self, mbps: float) -> None:
        self.rate = mbps * (1 << 20)
        self.start = time.monotonic()
        self.sent = 0

    def add(self, nbytes: int) -> None:
        self.sent += nbytes
        if self.rate <= 0:
            return
        ahead = self.sent / self.rate - (time.monotonic() - self.start)
        if ahead > 0:
            time.sleep(ahead)
