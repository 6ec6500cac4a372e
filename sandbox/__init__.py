"""Local stand-ins for EnrolHQ and Sentral, with a deterministic generator of synthetic schools.

The sandbox imports nothing from the project's own packages: it plays the outside world.
"""

from __future__ import annotations
