"""Puts pysqlite3 in place of the standard sqlite3 module, so that SpatiaLite can be loaded.

The interpreter's own sqlite3 module is built without extension loading; pysqlite3, built from source
against the system's libsqlite3, has it. This must run before Django imports its SQLite backend.
"""

import sys


def use_pysqlite3() -> bool:
    """Alias pysqlite3 as sqlite3; return False (and change nothing) when it is not installed."""
    try:
        import pysqlite3  # noqa: F401
        from pysqlite3 import dbapi2
    except ImportError:
        return False
    sys.modules["sqlite3"] = sys.modules["pysqlite3"]
    sys.modules["sqlite3.dbapi2"] = dbapi2
    return True
