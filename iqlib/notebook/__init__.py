"""The notebook kit: parameters and their validators, plotting, source display, the papermill runner."""
