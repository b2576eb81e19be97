"""An example Flyte project: a small data pipeline split across sibling modules."""
