"""Whole datasets: layouts, reading and writing views, the output folder, workers and the run.

:func:`pixscale.run_dataset` is the entry point; ``pixscale run`` calls
:func:`pixscale.pipeline.driver.run_records`.  Importing this package imports nothing
else: each module here is imported by what needs it.
"""
