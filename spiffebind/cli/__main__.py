"""``python -m spiffebind.cli``: the same entry point as the console script."""

from spiffebind.cli import main

main()
