"""Regenerate spiffebind/api/v1/*_pb2*.py(i) from the .proto files beside them (`make proto`)."""

from __future__ import annotations

import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    protos = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "spiffebind/api/v1").glob("*.proto"))
    args = [
        "protoc",
        f"-I{ROOT}",
        f"--python_out={ROOT}",
        f"--pyi_out={ROOT}",
        f"--grpc_python_out={ROOT}",
    ]
    return protoc.main([*args, *protos])


if __name__ == "__main__":
    sys.exit(main())
