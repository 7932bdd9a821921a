"""`python -m bench.suite`: run the benchmark phases and report them beside their baselines."""

from __future__ import annotations

import sys

from bench.suite.cli import main

sys.exit(main())
