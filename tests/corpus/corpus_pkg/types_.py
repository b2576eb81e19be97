"""Data types shared by the corpus modules."""

import enum
from dataclasses import dataclass, field
from typing import List, NamedTuple, Optional


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


@dataclass
class Config:
    name: str
    size: int = 3
    weights: List[float] = field(default_factory=list)
    note: Optional[str] = None


class Stats(NamedTuple):
    mean: float
    count: int


Split = NamedTuple("Split", [("train", List[int]), ("test", List[int])])
MaybeInt = Optional[int]
