"""Names the suite and its tools share: importing `bench.bench_tools` registers the tools
in that process, which only the platform's workers should do."""

TOOLS_MODULE = "bench.bench_tools"
NOOP = "noop"
NAP = "nap"
WORK100 = "work100"
NAP_MAX_S = 120.0
WORK_S = 0.1
