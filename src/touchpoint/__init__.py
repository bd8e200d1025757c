"""Touchpoint: a customer-data and customer-journey platform for securities brokerages."""

__version__ = "0.1.0"
