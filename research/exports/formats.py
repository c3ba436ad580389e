"""The export formats by name, without their writers (which import Arrow): for parsers and route signatures."""

from __future__ import annotations

from typing import Literal, get_args

Format = Literal["csv", "jsonl", "parquet", "sav"]
FORMATS: tuple[str, ...] = get_args(Format)
"""CSV, JSON Lines, Parquet, SPSS."""
