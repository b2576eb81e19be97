"""Entities that live elsewhere or run outside Python functions."""

import flytekit as fk
from flytekit import ContainerTask, kwtypes, reference_task
from flytekit.core.workflow import ImperativeWorkflow
from flytekit.extras.tasks.shell import ShellTask

from workflows.tasks import clean, load_data


@reference_task(
    project="flytesnacks",
    domain="development",
    name="shared.tasks.normalize",
    version="v3",
)
def normalize(values: list[float]) -> list[float]:
    """A task registered by another team."""
    ...


word_count = ShellTask(
    name="word_count",
    script="wc -w {inputs.text_file} > {outputs.counts}",
    inputs=kwtypes(text_file=str),
    output_locs=[],
)

checksum = ContainerTask(
    name="checksum",
    image="alpine:3.19",
    input_data_dir="/var/inputs",
    output_data_dir="/var/outputs",
    inputs=kwtypes(path=str),
    outputs=kwtypes(digest=str),
    command=["sh", "-c", "sha256sum /var/inputs/path | cut -d' ' -f1 > /var/outputs/digest"],
)


@fk.task(retries=1)
def describe(values: list[float]) -> str:
    return f"{len(values)} values"


imperative = ImperativeWorkflow(name="workflows.external.imperative")
imperative.add_workflow_input("n", int)
loaded = imperative.add_entity(load_data, n=imperative.inputs["n"])
cleaned = imperative.add_entity(clean, values=loaded.outputs["o0"])
imperative.add_workflow_output("cleaned", cleaned.outputs["o0"], python_type=list[float])
