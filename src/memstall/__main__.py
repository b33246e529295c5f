"""`python -m memstall`."""

from __future__ import annotations

import sys

from memstall.cli import main

sys.exit(main())
