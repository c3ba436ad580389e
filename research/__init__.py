"""What researchers read: customer timelines, exports and their codebooks, pseudonyms, touchpoint statistics,
retention and erasure."""
