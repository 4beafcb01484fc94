"""One module per CLI command: the set-up around the engine, the output files, the exit code."""
