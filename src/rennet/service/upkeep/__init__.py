"""Keeping the store in shape: garbage collection, bounded caches, verification and statistics."""
