"""Plain-Python data checks the tasks call (no Flyte here): a failure is raised in this module."""

from typing import List


def require_at_least(values: List[float], minimum: int) -> List[float]:
    """Return ``values`` unchanged, or raise when there are fewer than ``minimum`` of them."""
    if len(values) < minimum:
        raise ValueError(f"need at least {minimum} values, got {len(values)}")
    return values
