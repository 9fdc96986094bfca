"""
``python -m loginsvc``: the same as the ``loginsvc`` command.
"""

from __future__ import annotations

from loginsvc.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
