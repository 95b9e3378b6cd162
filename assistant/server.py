"""One process serves the app and the API: a FastAPI application with the API's routes under
/v1 and the Gradio app mounted at /, behind the same users, grants and login throttling."""

from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from typing import Any

import gradio as gr
import uvicorn
from fastapi import FastAPI, HTTPException

from assistant import api
from assistant.audit import AuditLog
from assistant.logins import LoginGuard
from assistant.service import Assistant
from assistant.tokens import TokenStore
from assistant.ui import CSS, build_ui
from assistant.users import UserStore

# The address of the client whose request is being served: Gradio hands its login check only
# the name and password, and throttling needs the address too.
client_address: ContextVar[str | None] = ContextVar("client_address", default=None)
Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class _RememberClientAddress:
    """ASGI middleware: sets client_address for the request it passes on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Any]], send: Any) -> None:
        client = scope.get("client")
        token = client_address.set(client[0] if client else None)
        try:
            await self.app(scope, receive, send)
        finally:
            client_address.reset(token)


def login_check(users: UserStore, guard: LoginGuard, audit: AuditLog) -> Callable[[str, str], bool]:
    """The app's login: refused while the user or the client address waits out a delay or is
    locked (the password is not even checked), and every attempt audited."""

    def check(name: str, password: str) -> bool:
        address = client_address.get()
        refusal, locked = guard.attempt(name, address)
        if refusal:
            audit.record(name, "login_refused", address=address, reason=refusal, locked=locked)
            return False
        role = users.authenticate(name, password)
        if role is None:
            audit.record(name, "login_failed", address=address, locked=locked)
            return False
        guard.succeeded(name, address)
        audit.record(name, "login", role=role, address=address)
        return True

    return check


def build_app(assistant: Assistant, no_auth: bool) -> FastAPI:
    """The API and the app, with the users file (or without login, as the local admin)."""
    settings = assistant.settings
    users = None if no_auth else UserStore(settings.data_dir / "users.json")
    audit = AuditLog(settings.data_dir / "audit.jsonl")
    guard = LoginGuard(settings.data_dir / "logins.db")
    tokens = TokenStore(settings.data_dir / "tokens.json")
    app = FastAPI(title="Briefing assistant API", docs_url="/v1/docs", openapi_url="/v1/openapi.json")
    app.add_middleware(_RememberClientAddress)
    app.add_exception_handler(HTTPException, api.openai_error)  # the app mounted below keeps Gradio's own
    app.include_router(api.router(assistant, users, tokens, guard, audit))  # before the app, which takes "/"
    ui = build_ui(assistant, users, audit).queue(default_concurrency_limit=settings.concurrency)
    return gr.mount_gradio_app(
        app,
        ui,
        path="/",
        auth=None if users is None else login_check(users, guard, audit),
        auth_message="Briefing assistant · مساعد الإحاطة",
        max_file_size=int(settings.max_file_mb * 2**20),
        css=CSS,
    )


def serve(assistant: Assistant, no_auth: bool) -> None:
    """Serve with the users file, or without login on localhost only when asked explicitly."""
    settings = assistant.settings
    users = UserStore(settings.data_dir / "users.json")
    if no_auth:
        if settings.host not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit("--no-auth serves on localhost only; unset ASSISTANT_HOST or use a users file.")
    elif not users.exists() or not users.roles():
        raise SystemExit(
            f"No users yet ({users.path}). Create one, then start again:\n"
            "  python -m assistant users add NAME --role admin\n"
            "or, to try the app on this machine only without logging in:\n"
            "  python app.py --no-auth"
        )
    app = build_app(assistant, no_auth)
    print(f"Serving the app on http://{settings.host}:{settings.port} and its API under /v1", flush=True)
    # A browser keeps Gradio's event stream open: on SIGTERM wait for it only briefly.
    # The client's own address, not X-Forwarded-For, which any local client could set to dodge throttling.
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        timeout_graceful_shutdown=5,
        proxy_headers=False,
    )
