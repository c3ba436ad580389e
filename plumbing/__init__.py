"""Domain-neutral plumbing at the bottom of the package arrows: every lxt package may import it, it imports none.

- `plumbing.ids`: row ids (UUIDv7).
"""
