"""Back-off between attempts of one request, honouring the server's ``Retry-After``."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header, or None when absent or unreadable.

    The header is either a number of seconds or an HTTP date.
    """
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True)
class BackoffPolicy:
    """How often and how long a client retries one request before handing the error to Airflow.

    :param attempts: total tries of one request, the first included.
    :param base: seconds before the second try; each later wait doubles, with jitter.
    :param cap: the longest wait between two tries, ``Retry-After`` included.
    """

    attempts: int = 5
    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        if retry_after is not None:
            return min(self.cap, retry_after)
        exponential = self.base * (2 ** (attempt - 1))
        return min(self.cap, exponential * random.uniform(1.0, 1.5))
