"""Readers of platform exports: one module per vendor, each turning an export into canonical rows.

Each module has ``NAME`` (the ``format`` users give), ``FIELDS`` (vendor field, canonical column,
rule: the README's table) and ``read(path, *, label, timezone, options)``; :mod:`alignment.data.formats`
registers them beside the SQL formats.
"""
