"""Errors of the workflow layer."""

from __future__ import annotations

from geo.errors import PantauError

__all__ = ["WorkflowError"]


class WorkflowError(PantauError):
    """A workflow cannot run with the given inputs."""
