"""Task classes instantiated at module level: ContainerTask, ShellTask, SQLite3Task, PythonInstanceTask-like."""

from flytekit import ContainerTask, kwtypes, workflow
from flytekit.extras.sqlite3.task import SQLite3Config, SQLite3Task
from flytekit.extras.tasks.shell import OutputLocation, ShellTask
from flytekit.types.file import FlyteFile

hello = ContainerTask(
    name="corpus_hello",
    image="alpine:3.19",
    inputs=kwtypes(name=str),
    outputs=kwtypes(greeting=str),
    input_data_dir="/var/inputs",
    output_data_dir="/var/outputs",
    command=["sh", "-c", "echo hello {{.inputs.name}} > /var/outputs/greeting"],
)

shell = ShellTask(
    name="corpus_shell",
    debug=True,
    script="""
    set -ex
    cat {inputs.infile} > {outputs.out}
    """,
    inputs=kwtypes(infile=FlyteFile),
    output_locs=[OutputLocation(var="out", var_type=FlyteFile, location="/tmp/corpus_out.txt")],
)

query = SQLite3Task(
    name="corpus_sqlite",
    query_template="SELECT * FROM tracks LIMIT {{ .inputs.limit }}",
    inputs=kwtypes(limit=int),
    task_config=SQLite3Config(uri="https://example.com/chinook.zip", compressed=True),
)


@workflow
def uses_special_tasks(name: str, infile: FlyteFile, limit: int = 10) -> str:
    greeting = hello(name=name)
    out = shell(infile=infile)
    query(limit=limit)
    return greeting
