"""Tags: the catalogue, rule evaluation, bitmaps and the 360° profile (docs/tags.md)."""
