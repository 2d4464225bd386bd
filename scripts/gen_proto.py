"""Regenerate spiffebind/api/v1/*_pb2*.py(i) from the .proto files beside them (`make proto`).

mypy-protobuf's plugins write the .pyi stubs, so code that uses the generated messages is
type-checked against them; the generated modules themselves are excluded from mypy and ruff
(pyproject.toml), since grpcio-tools' output is not --strict clean.
"""

from __future__ import annotations

import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def main() -> int:
    protos = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "spiffebind/api/v1").glob("*.proto"))
    args = [
        "protoc",
        f"-I{ROOT}",
        f"--plugin=protoc-gen-mypy={BIN / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={BIN / 'protoc-gen-mypy_grpc'}",
        f"--python_out={ROOT}",
        f"--mypy_out={ROOT}",
        f"--grpc_python_out={ROOT}",
        f"--mypy_grpc_out={ROOT}",
    ]
    return protoc.main([*args, *protos])


if __name__ == "__main__":
    sys.exit(main())
