"""Advisor service tasks (投顾工作台): hand-offs from MOT rules and journeys, their outcomes and KPIs."""
