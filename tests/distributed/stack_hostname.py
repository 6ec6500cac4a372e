"""The host name a native worker reports, standing in for the machine it would run on in the stack.

Every native worker runs on this one machine, so Airflow's default host name would be the same for
all of them. Each worker sets ``SENTRAL_STACK_HOSTNAME`` and points ``[core] hostname_callable`` here,
so that task instances record which worker ran them, as they would on separate machines.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    """The worker's name in the stack, or the machine's when none is set."""
    return os.environ.get("SENTRAL_STACK_HOSTNAME") or socket.getfqdn()
