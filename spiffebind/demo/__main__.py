"""Run the demo: ``python -m spiffebind.demo`` (``make demo``)."""

from __future__ import annotations

import sys

from spiffebind.demo.story import main

sys.exit(main())
