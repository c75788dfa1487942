"""Fakes of the external services that tests and benchmarks talk to over real HTTP on loopback."""
