"""Pytest fixtures that start the sandbox servers for end-to-end tests."""

from __future__ import annotations
