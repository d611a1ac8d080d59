"""The notebook kit: parameters (params, validators, names), plotting, source display, the papermill
runner (runner, overrides, kernel, summary), JupyterLab settings (lab), and sweeps on Dask with their
records (grid, records, provenance, sweep)."""
