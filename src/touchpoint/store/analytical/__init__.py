"""The analytical store: Hive-partitioned Parquet with an atomic manifest per table."""
