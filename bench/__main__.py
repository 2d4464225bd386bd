"""``python -m bench``: run the benchmarks once, print them, merge them into results.json."""

from __future__ import annotations

import json
from pathlib import Path

from bench import inprocess

RESULTS = Path(__file__).with_name("results.json")


def main() -> None:
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["inprocess_verify"] = inprocess.run()
    for name, value in results["inprocess_verify"].items():
        print(f"{name:44} {value}")
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
