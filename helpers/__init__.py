"""Helpers for the preference-datasets course kit: presets, pipelines, ratings, pairs, checks."""

from helpers.workarounds import quiet_distilabel, restore_plain_tracebacks, separate_pipeline_folders

quiet_distilabel()  # before distilabel is first imported
restore_plain_tracebacks()
separate_pipeline_folders()  # before any Pipeline is built
