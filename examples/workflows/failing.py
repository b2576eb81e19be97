"""A workflow that fails on purpose: its task calls a check in another module that raises.

``make demo`` runs ``strict_count`` with too few values and shows the error on the raising line of
``workflows/checks.py``. ``n`` has no default: an editor asks for it before running.
"""

from typing import List

from flytekit import task, workflow

from workflows.checks import require_at_least


@task
def make_values(n: int) -> List[float]:
    return [i / 10 for i in range(n)]


@task
def count_checked(values: List[float], minimum: int) -> int:
    """Count the values after checking there are enough of them."""
    return len(require_at_least(values, minimum))


@workflow
def strict_count(n: int, minimum: int = 10) -> int:
    """Fails unless ``n >= minimum``."""
    return count_checked(values=make_values(n=n), minimum=minimum)
