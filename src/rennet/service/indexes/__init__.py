"""The index services, one per kind: what a proxy, a hosted index and a group do with a request."""
