"""The orchestrator: a Faust app around a pure conversation state machine."""
