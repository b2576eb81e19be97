"""A helper module the failing task imports: the error is raised here, not in flows.py."""


def check_positive(x: int) -> int:
    if x < 0:
        raise ValueError(f"x must be positive, got {x}")
    return x
