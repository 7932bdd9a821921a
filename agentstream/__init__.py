"""agentstream: run Claude tool-use agents as an event-driven pipeline over Kafka."""

__version__ = "0.1.0"
