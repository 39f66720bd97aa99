# tests/: integration tests, fuzz targets and benchmarks shared across modules.
