"""Domain-neutral plumbing at the bottom of the package arrows: every lxt package may import it, it imports none.

- `plumbing.errors`: field errors named by JSON pointers, and the one converter of msgspec's messages into them.
- `plumbing.ids`: row ids (UUIDv7).
- `plumbing.rows`: typed rows and the statements that write many of them at once.
"""
