"""Project pipelines: every package in fluxion/pipelines/ plus the whole demo story."""

import re
from pathlib import Path

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from fluxion.errors import ParameterError

SIDE_TAGS = {"figures", "mlflow"}   # nodes that only draw or log
FLOW_TAG = "data-flow"


def register_pipelines() -> dict[str, Pipeline]:
    try:
        pipelines = find_pipelines(raise_errors=True)
    except ImportError as error:
        if error.__cause__ is not None:  # a pipeline that exists failed to import: a real bug
            raise
        available = sorted(p.name for p in (Path(__file__).parent / "pipelines").iterdir()
                           if (p / "pipeline.py").is_file())
        asked = re.findall(r"pipelines\.(\w+)", str(error))
        raise ParameterError(f"--pipeline: there is no pipeline named {', '.join(asked)}; the "
                             f"pipelines are {', '.join(available)} (and __default__, all of "
                             "them).") from None
    pipelines = {name: with_flow_tag(found) for name, found in pipelines.items()}
    pipelines["__default__"] = sum(pipelines.values(), Pipeline([]))
    return pipelines


def with_flow_tag(found: Pipeline) -> Pipeline:
    """Tag every node that is neither a figure nor MLflow logging ``data-flow``, so kedro-viz's
    tag filter (``?tags=data-flow``) shows the data flow alone."""
    return Pipeline([n if n.tags & SIDE_TAGS else n.tag(FLOW_TAG) for n in found.nodes])
