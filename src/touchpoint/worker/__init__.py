"""Background work: the event log's consumers (One ID, compaction) and housekeeping, on a cadence."""
