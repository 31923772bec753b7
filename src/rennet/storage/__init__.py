"""Storage: content-addressed blobs on disk, the catalog database, and cross-process change counters."""
