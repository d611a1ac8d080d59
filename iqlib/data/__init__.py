"""Files the project reads and writes: atomic writes with checksums and provenance (files),
datasets on disk (datasets), expert demonstrations (demos), the registry of our offline sets
(registry, which also takes local Minari ids), Minari datasets in and out (minari_io), expert
checkpoints (experts)."""
