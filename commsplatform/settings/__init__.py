"""Settings: everything is defined in base.py; local, test and production adjust it for their use."""
