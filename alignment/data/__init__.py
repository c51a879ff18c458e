"""Step 3 of the method, the data layer: read contacts, surveys and extra sources.

Files are read by the engine, DuckDB by default or Spark (CSV with any common
separator, with or without a BOM, CRLF or LF; Parquet; on Spark also Delta and
catalog tables) or taken from pandas DataFrames, renamed to the canonical
columns, typed and validated in SQL so that raw contacts are never loaded whole
into pandas.
"""

from .sources import ExtraSource, Intervals, Source

__all__ = ["Source", "ExtraSource", "Intervals"]
