"""Crowd insight (人群洞察): TGI profiles, indicator summaries, overlaps, lookalike expansion."""
