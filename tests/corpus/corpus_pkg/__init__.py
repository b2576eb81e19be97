"""A valid Flyte project: every construct flyte-ls understands, none of them a mistake."""
