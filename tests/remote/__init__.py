"""Tests of flyte_ls.remote."""
