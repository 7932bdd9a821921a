"""`python -m bench.chaos`: run the chaos scenarios and report what was lost."""

from __future__ import annotations

import sys

from bench.chaos.cli import main

sys.exit(main())
