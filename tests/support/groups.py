"""The dependency-confusion scenario of the group tests (tests/web/test_groups.py over HTTP,
tests/e2e/test_groups_clients.py with pip and uv): alice's private `acme-secret` 1.0 in local, an attacker's
public 9.0 of the same name upstream, and groups over both."""

from __future__ import annotations

from tests.support.dists import make_wheel
from tests.support.hosting import UPLOADS

CONFIG = f"""{UPLOADS}
# "default" is the built-in group of local and pypi, in that order.

[index.proxyfirst]
type = "group"
members = ["pypi", "local"]

[index.outer]
type = "group"
members = ["proxyfirst"]

[index.mixed]
type = "group"
members = ["local", "pypi"]
allow_upstream = ["Acme_Secret"]
"""
GROUPS = ("default", "proxyfirst", "outer", "mixed")
PRIVATE = make_wheel("acme-secret", "1.0")  # uploaded to local
PUBLIC = make_wheel("acme-secret", "9.0")  # the attacker's upload to PyPI
