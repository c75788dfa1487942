"""Benchmarks, one script per issue (see README.md); a package, so their names never clash with the apps."""
