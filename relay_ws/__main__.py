"""`python -m relay_ws`: run the relay node."""

from __future__ import annotations

import sys

from relay_ws.server import main

if __name__ == "__main__":
    sys.exit(main())
