"""The domain: project names, distribution files, index pages and the rules that combine them.

Pure code: nothing in this package performs I/O or imports from the edges (web, storage, upstream, cli).
"""
