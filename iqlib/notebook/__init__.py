"""The notebook kit: parameters (params, validators, names), plotting, source display, the papermill
runner (runner, overrides, kernel, summary), JupyterLab settings (lab), and sweeps on Dask with their
records (grid, records, provenance, sweep), learning curves drawn fresh over recorded (curves), the
claims every notebook ends with (claims), and notebook 09's one table of every dataset (iql_records)."""
