"""Capture archives: `ladder index` (Parquet rows per call, stitched across rotated files) and `ladder search` (DuckDB)."""
