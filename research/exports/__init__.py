"""Exports: datasets (what rows and columns, as SQL) written in a format (CSV, JSON Lines, Parquet, SPSS), each with
its codebook, streamed in constant memory."""
