"""flytekit's own local execution of §7 cases: `python local_driver.py <project dir> <case>...`.

Runs in a subprocess so that flytekit's local-execution state stays out of the test process. Prints one line
`E2E-RESULT {case: {"outputs": {...}} | {"error": "..."}}` (normalised like the remote outputs).
"""

import json
import os
import sys

os.environ.setdefault("FLYTE_SDK_LOGGING_LEVEL", "40")


def main() -> None:
    project = sys.argv[1]
    sys.path.insert(0, project)
    from flytekit_e2e import CASES, RESULT_MARK, normalize_local, workflows_module

    results: dict[str, dict[str, object]] = {}
    for key in sys.argv[2:]:
        case = CASES[key]
        wf = getattr(workflows_module(case.module), case.workflow)
        os.environ.update(case.env)
        try:
            result = wf(**case.inputs())
        except Exception as e:  # a failing case: its error message is compared with the remote one
            results[key] = {"error": f"{type(e).__name__}: {e}"}
        else:
            results[key] = {"outputs": normalize_local(case, result)}
        finally:
            for name, _ in case.env:
                os.environ.pop(name, None)
    print(RESULT_MARK + json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
