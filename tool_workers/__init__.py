"""Tool workers: consume a tool's calls topic, execute, publish results; plus model workers."""
