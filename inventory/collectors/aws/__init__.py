"""AWS collectors, one module per service family. Helpers for ARNs and tags live in _util.py."""
