"""Moments of truth (MOT, 关键时刻): rules that turn data into `mot_<rule>` events and advisor tasks."""
