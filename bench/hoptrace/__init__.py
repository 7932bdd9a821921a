"""Where a tool hop's time goes, step by step, across the processes it passes through.

    .venv/bin/python -m bench.hoptrace [--conversations 500]

Runs the hop phase's conversation (`call noop ...`: a model call, one no-op tool call, a
second model call) one at a time on a fresh platform and a broker of its own, with every
platform process marking the moments a record passes (`bench.hoptrace.recorder`), then
prints the tool hop cut into its segments (`bench.hoptrace.segments`) as JSON.
"""
