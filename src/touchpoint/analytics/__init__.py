"""Behaviour analytics (行为分析): event trends and funnels over the collected events, in Beijing days."""
