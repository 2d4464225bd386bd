"""atheris target: any bytes into the token verifier and the signed-request checks.

The property (as in OSS-Fuzz's pyjwt harness): for every input, the only exceptions are our
own refusals, TokenRejected and RequestRejected; anything else is a finding. The first byte
picks what the rest is: a token, a request proof, ``header\\npayload`` JSON that is signed
with the in-process issuer's real key, so mutations reach the claim checks behind the
signature, or a DPoP proof sent with a valid token. See fuzz/README.md.
"""

from __future__ import annotations

import argparse
import sys
from functools import cache
from pathlib import Path

from spiffebind.errors import RejectedError
from spiffebind.testing.attacks import CASES, REQUEST_CASES, InProcess, in_process
from spiffebind.testing.attacks.dpop import DPOP_URI
from spiffebind.testing.forge import compact
from spiffebind.token import ReplayCache, check_request
from spiffebind.token.dpop import DpopRequest

TOKEN, PROOF, SIGNED, DPOP = 0, 1, 2, 3


@cache
def _world() -> InProcess:
    return in_process()


def run_one(data: bytes) -> None:
    """Feed one input; raises only for a finding (anything but a RejectedError)."""
    world = _world()
    m = world.materials
    mode, body = (data[0] % 4, data[1:]) if data else (TOKEN, b"")
    try:
        if mode == DPOP:
            dpop = DpopRequest(body, "POST", DPOP_URI)
            world.verifier().verify(m.token(), audience=m.audience, presented_chain=(), dpop=dpop)
            return
        if mode == PROOF:
            check_request(
                body, daemon_id=m.signer_id, bundles=world.bundles, now=m.now, replay=ReplayCache()
            )
            return
        if mode == SIGNED:
            header, _, payload = body.partition(b"\n")
            body = compact(header, payload, m.signer.key).encode()
        world.verifier().verify(body, audience=m.audience, presented_chain=[m.agent.cert])
    except RejectedError:
        return


def seeds() -> dict[str, bytes]:
    """One seed per attack case (its token or last proof), named by the case."""
    m = _world().materials
    out = {f"token-{c.id}": bytes([TOKEN]) + c.attempt(m).token.encode() for c in CASES}
    for c in REQUEST_CASES:
        out[f"proof-{c.id}"] = bytes([PROOF]) + c.build(m)[-1].encode()
    for c in CASES:
        dpop = c.attempt(m).dpop
        if dpop is not None and dpop.proof:
            out[f"dpop-{c.id}"] = bytes([DPOP]) + dpop.proof.encode()
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=Path, help="write the seed corpus to this directory")
    known, rest = parser.parse_known_args(argv[1:])
    if known.seeds:
        known.seeds.mkdir(parents=True, exist_ok=True)
        for name, data in seeds().items():
            (known.seeds / name).write_bytes(data)
        return
    import atheris  # only the fuzzing run needs it

    atheris.instrument_all()
    atheris.Setup([argv[0], *rest], run_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
