"""The FastAPI app of `genlab serve`: a static page and JSON endpoints.

Endpoints (all JSON, images as PNG data URLs):

- ``GET  /api/info``         family, classes, controls, what the page can offer;
- ``POST /api/generate``     ``{seed, n, label, values}`` -> ``{image | text, values, labels}``;
- ``POST /api/interpolate``  ``{seed_a, seed_b, steps, label}`` -> ``{image}``;
- ``POST /api/translate``    multipart ``file`` and ``direction`` -> ``{input, image}``;
- ``GET  /api/latents``, ``POST /api/latents/decode {index}``  the latent scatter of
  ``--latents FILE`` (serve/latents.py): its 2-D points, and one point decoded.

A `GenlabError` becomes HTTP 400 with ``{"error": message}``; a body that
does not validate (a NaN or infinite number, a wrong type) 422 with the same
shape. Requests whose ``Host`` header is not this machine's (``localhost``,
``127.0.0.1``, ``[::1]``, the bound address) or a name given with
``--allow-host`` are refused with 400, so a web page elsewhere cannot reach the
server through DNS rebinding. An upload whose declared size is over the limit
is refused with 413 before its body is read.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Annotated, Optional

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.middleware.trustedhost import TrustedHostMiddleware

from ..api import load
from ..errors import GenlabError
from .latents import LatentScatter
from .session import MAX_UPLOAD_BYTES, ModelSession

STATIC = Path(__file__).parent / "static"
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
#: multipart overhead allowed on top of the image itself
UPLOAD_SLACK = 64 * 1024

#: a JSON number the model can use: finite (NaN and Infinity are refused with 422)
Finite = Annotated[float, Field(allow_inf_nan=False)]


class GenerateRequest(BaseModel):
    seed: int = Field(0, ge=0, le=2**63 - 1)
    n: int = Field(16, ge=1, le=64)
    label: Optional[int] = Field(None, ge=-(2**31), le=2**31 - 1)
    values: Optional[dict[str, Finite]] = None


class DecodeRequest(BaseModel):
    index: int = Field(0, ge=0, le=2**31 - 1)


class InterpolateRequest(BaseModel):
    seed_a: int = Field(0, ge=0, le=2**63 - 1)
    seed_b: int = Field(1, ge=0, le=2**63 - 1)
    steps: int = Field(8, ge=2, le=16)
    label: Optional[int] = Field(None, ge=-(2**31), le=2**31 - 1)


def allowed_hosts(host: str = "127.0.0.1", extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Host header values the server answers: this machine's names, the bound address
    (unless it is a wildcard) and `extra` (``*`` allows any)."""
    names = list(LOCAL_HOSTS)
    if host not in ("0.0.0.0", "::", ""):
        names.append(f"[{host}]" if ":" in host and not host.startswith("[") else host)
    for name in extra:
        name = name.strip().lower()
        if not name or "*" in name[1:] or (name.startswith("*") and name != "*" and not name.startswith("*.")):
            raise GenlabError(f"bad --allow-host {name!r}; give a host name, *.domain or *")
        names.append(f"[{name}]" if ":" in name and not name.startswith("[") else name)
    return sorted(set(names))


def create_app(session: ModelSession, hosts: list[str] | None = None, latents=None) -> FastAPI:
    app = FastAPI(title=f"genlab: {session.model.family}", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts or allowed_hosts(), www_redirect=False)

    @app.exception_handler(GenlabError)
    async def genlab_error(request: Request, exc: GenlabError):
        return JSONResponse({"error": str(exc)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return JSONResponse({"error": f"bad request: {where or 'body'}: {first.get('msg', 'invalid')}"},
                            status_code=422)

    @app.middleware("http")
    async def upload_limit(request: Request, call_next):
        declared = request.headers.get("content-length", "")
        if request.url.path == "/api/translate" and declared.isdigit() and \
                int(declared) > MAX_UPLOAD_BYTES + UPLOAD_SLACK:
            return JSONResponse({"error": f"the upload is {int(declared) / 2**20:.1f} MiB; upload an image under "
                                          f"{MAX_UPLOAD_BYTES // 2**20} MiB"}, status_code=413,
                                headers={"Connection": "close"})
        return await call_next(request)

    def static(name: str, media_type: str):
        return FileResponse(STATIC / name, media_type=media_type, headers={"Cache-Control": "no-store"})

    @app.get("/")
    def index():
        return static("index.html", "text/html")

    @app.get("/static/app.js")
    def script():
        return static("app.js", "text/javascript")

    @app.get("/static/style.css")
    def style():
        return static("style.css", "text/css")

    @app.get("/api/info")
    def info():
        return {**session.info(), "latents": latents is not None}

    @app.get("/api/latents")
    def latent_points():
        if latents is None:
            raise GenlabError("no latent codes loaded; start the server with --latents FILE (from genlab encode)")
        return latents.points()

    @app.post("/api/latents/decode")
    def latent_decode(req: DecodeRequest):
        if latents is None:
            raise GenlabError("no latent codes loaded; start the server with --latents FILE (from genlab encode)")
        return latents.decode(req.index)

    @app.post("/api/generate")
    def generate(req: GenerateRequest):
        return session.generate(seed=req.seed, n=req.n, label=req.label, values=req.values)

    @app.post("/api/interpolate")
    def interpolate(req: InterpolateRequest):
        return session.interpolate(seed_a=req.seed_a, seed_b=req.seed_b, steps=req.steps, label=req.label)

    @app.post("/api/translate")
    async def translate(file: UploadFile = File(...), direction: str = Form("")):
        data = await file.read(MAX_UPLOAD_BYTES + 1)
        return session.translate(data, direction or None)

    return app


def serve(run: str, host: str = "127.0.0.1", port: int = 7860, device: str = "cpu",
          allow_hosts: list[str] | tuple[str, ...] = (), latents: str | None = None) -> None:
    """Load `run` and answer on http://host:port until Ctrl-C (Host headers: see `allowed_hosts`;
    `latents`: an .npz from genlab encode for the page's scatter)."""
    import uvicorn  # noqa: PLC0415

    if not 0 < port < 65536:
        raise GenlabError(f"--port {port} is not a valid port; use 1..65535 (default 7860)")
    check_port(host, port)
    hosts = allowed_hosts(host, allow_hosts)
    model = load(run, device=device)
    session = ModelSession(model, source=Path(run).resolve().name)
    scatter = None
    if latents:

        scatter = LatentScatter(session, latents)
    app = create_app(session, hosts, scatter)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"genlab: warning: listening on {host}; the page has no authentication, anyone who can reach "
              f"this port can use it; it answers the host names {', '.join(hosts)} (add more with --allow-host)",
              file=sys.stderr)
    shown = f"[{host}]" if ":" in host else host
    print(f"genlab: serving {model.family} from {run} at http://{shown}:{port}/ (Ctrl-C to stop)", flush=True)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    uvicorn.Server(config).run()


def check_port(host: str, port: int) -> None:
    """Fail in one line, before loading anything, when host:port cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise GenlabError(f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port or --host") \
                from None
