"""Prepared-data format (parquet, DESIGN.md §3), its reader and the dataset class."""
