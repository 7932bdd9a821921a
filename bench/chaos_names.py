"""Names the harness and its tool share, apart from the tool itself: importing
`bench.chaos_tools` registers the tool in this process, which only workers should do."""

LEDGER_ENV = "AGENTSTREAM_CHAOS_LEDGER"
TOOL_NAME = "chaos_record"
