"""In-process verification for ASGI apps (Starlette, FastAPI): ``pip install spiffebind[asgi]``."""

from spiffebind.asgi.middleware import SCOPE_KEY, SpiffebindMiddleware, verified_token

__all__ = ["SCOPE_KEY", "SpiffebindMiddleware", "verified_token"]
