"""rennet: a self-hosted Python package index: caching proxy, private hosting, groups, offline tools."""

__version__ = "0.1.0"
