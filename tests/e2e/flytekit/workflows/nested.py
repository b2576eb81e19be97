"""Nesting: a branch that calls a subworkflow whose @dynamic fans out tasks returning files; a map task over
dataclasses; a task with a deck; a gated child launch plan (for terminate and signals through a child)."""

from dataclasses import dataclass
from pathlib import Path

from flytekit import Deck, LaunchPlan, conditional, current_context, dynamic, map_task, task, workflow
from flytekit.types.file import FlyteFile

from workflows.gates import input_wf


@dataclass
class Item:
    name: str
    qty: int


@task(enable_deck=True)
def make_items(n: int) -> list[Item]:
    items = [Item(name=f"item{i}", qty=i + 1) for i in range(n)]
    Deck("items", "<ul>" + "".join(f"<li>{i.name}</li>" for i in items) + "</ul>")
    return items


@task
def price(item: Item) -> float:
    return item.qty * 1.5


@task
def item_file(item: Item) -> FlyteFile:
    path = Path(current_context().working_directory) / f"{item.name}.txt"
    path.write_text(item.name * item.qty)
    return FlyteFile(str(path))


@task
def total_size(files: list[FlyteFile]) -> int:
    size = 0
    for f in files:
        with open(f) as fh:
            size += len(fh.read())
    return size


@task
def count(items: list[Item]) -> int:
    return len(items)


@dynamic
def files_for(items: list[Item]) -> list[FlyteFile]:
    return [item_file(item=i) for i in items]


@workflow
def sized(items: list[Item]) -> int:
    return total_size(files=files_for(items=items))


@workflow
def nested_wf(n: int, mode: str) -> tuple[list[float], int]:
    items = make_items(n=n)
    prices = map_task(price)(item=items)
    measured = (
        conditional("mode").if_(mode == "size").then(sized(items=items)).else_().then(count(items=items))
    )
    return prices, measured


gated_child_lp = LaunchPlan.get_or_create(input_wf, name="gated_child_lp")


@workflow
def gated_parent_wf(x: int) -> str:
    return gated_child_lp(x=x)
