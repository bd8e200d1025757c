"""The synthetic demo brokerage: customers, products, daily assets and holdings, trades, behaviour."""

from touchpoint.demo.model import DemoParams, DemoSummary
from touchpoint.demo.service import generate_demo

__all__ = ["DemoParams", "DemoSummary", "generate_demo"]
