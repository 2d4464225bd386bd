"""``python -m spiffebind``: the same entry point as the ``spiffebind`` console script."""

from spiffebind.cli import main

main()
