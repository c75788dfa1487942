"""Settings of bench/load.py: production's, unchanged, with one more URL for the benchmark's trivial endpoint.

Everything a deployment runs with stays as it is (DEBUG off, the security middleware and HTTPS redirect behind
the proxy's X-Forwarded-Proto, persistent database connections, DRF's anonymous and per-user throttles at their
production rates). The environment the production settings require is supplied by bench/load.py.
"""

from commsplatform.settings.production import *  # noqa: F403

ROOT_URLCONF = "bench.load_urls"
