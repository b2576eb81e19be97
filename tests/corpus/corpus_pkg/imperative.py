"""Imperative workflows built with Workflow(name=...) and add_entity / add_workflow_input / add_workflow_output."""

from typing import List

from flytekit import Workflow
from flytekit.core.workflow import ImperativeWorkflow

from corpus_pkg.tasks import add, double, stats
from corpus_pkg.workflows import simple

imperative = Workflow(name="corpus_pkg.imperative.imperative")
x_input = imperative.add_workflow_input("x", int)
doubled = imperative.add_entity(double, x=x_input)
summed = imperative.add_entity(add, x=doubled.outputs["o0"], y=x_input)
sub = imperative.add_subwf(simple, x=summed.outputs["o0"])
imperative.add_workflow_output("result", sub.outputs["o0"], python_type=int)

counted = ImperativeWorkflow(name="corpus_pkg.imperative.counted")
values = counted.add_workflow_input("values", List[int])
node = counted.add_task(stats, values=values)
counted.add_workflow_output("count", node.outputs["count"], python_type=int)
