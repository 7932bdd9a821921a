"""Metrics, alert rules and dashboards for the platform."""
