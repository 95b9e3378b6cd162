"""The HTTP API for other systems, served by the app's own process (assistant/server.py).

- `POST /v1/chat/completions`: OpenAI-compatible. The last user message is the question, the
  messages before it its history (a follow-up is read with them). The reply is the checked
  answer, with its `citations` (title, date, document id, pages, quoted words) beside the
  message; streamed (`"stream": true`) as the model writes, the last chunk carrying the checked
  answer and its citations. Scope as extra fields of the body (`extra_body` in the openai client):
  `collections`, `documents`, `since`, `until`, `passage_language`, and `language` for the answer.
- `POST /v1/search`: `{"query", "k", scope fields, "history"}` -> the passages.
- `GET /v1/models`: the one model this serves, so that clients that list models find it.

Every call carries `Authorization: Bearer <token>` (`python -m assistant tokens create USER`).
The token's user's role and collection grants apply as in the app: asking for a collection not
granted is refused (403), not silently narrowed; bad tokens are throttled per client address like
logins. Without a users file (--no-auth, localhost only) calls are the local admin's, as in the app.
"""

import json
import time
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from assistant.access import confine, searched_collections
from assistant.audit import AuditLog
from assistant.errors import AssistantError
from assistant.followup import check_history
from assistant.logins import LoginGuard
from assistant.service import Assistant
from assistant.tokens import TokenStore
from assistant.types import Answer, Citation, SearchFilter
from assistant.users import PERMISSIONS, UserStore

MODEL = "briefing-assistant"


class Scope(BaseModel):
    """The scope fields a request may carry; None admits everything the caller may read."""

    model_config = ConfigDict(extra="allow")  # an OpenAI body carries more (temperature, ...), ignored

    collections: list[str] | None = None
    documents: list[str] | None = None
    since: date | None = None
    until: date | None = None
    passage_language: Literal["ar", "en", "other"] | None = None

    def search_filter(self) -> SearchFilter | None:
        chosen = SearchFilter(
            collections=self.collections,
            documents=self.documents,
            languages=[self.passage_language] if self.passage_language else None,
            date_from=self.since.isoformat() if self.since else None,
            date_to=self.until.isoformat() if self.until else None,
        )
        return None if chosen == SearchFilter() else chosen


class ChatRequest(Scope):
    model: str = MODEL
    messages: list[dict[str, Any]]
    stream: bool = False
    language: Literal["ar", "en"] | None = Field(None, description="The answer's; default: the question's.")


class SearchRequest(Scope):
    query: str
    k: int = Field(5, ge=1, le=50)
    history: list[dict[str, Any]] = Field(default_factory=list)


class Caller(BaseModel):
    user: str
    role: str
    readable: frozenset[str] | None


def router(
    assistant: Assistant, users: UserStore | None, tokens: TokenStore, guard: LoginGuard, audit: AuditLog
) -> APIRouter:
    routes = APIRouter(prefix="/v1")

    def caller(request: Request) -> Caller:
        """Who calls, from the bearer token; refused without one, with a bad or revoked one."""
        if users is None:
            return Caller(user="local", role="admin", readable=None)
        address = request.client.host if request.client else None
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        user = tokens.user_of(token) if token else None
        role = users.roles().get(user) if user else None
        if user is None or role is None:
            # A token's 256-bit secret cannot be guessed, so a valid one is served whatever its
            # address did; bad ones are throttled per address like failed logins.
            refusal, locked = guard.attempt(None, address)
            audit.record("anonymous", "api_token_refused", address=address, reason=refusal, locked=locked)
            if refusal:
                raise HTTPException(429, refusal)
            raise HTTPException(401, "a valid API token is needed: Authorization: Bearer <token>")
        if "ask" not in PERMISSIONS[role]:
            raise HTTPException(403, f"the role {role} may not ask")
        return Caller(user=user, role=role, readable=assistant.access.readable(user, role))

    def scoped(who: Caller, body: Scope) -> SearchFilter | None:
        asked = body.search_filter()
        if who.readable is not None and body.collections is not None:
            refused = sorted(set(body.collections) - who.readable)
            if refused:
                audit.record(who.user, "api_denied", collections=refused)
                raise HTTPException(403, f"not granted to {who.user}: {', '.join(refused)}")
        return confine(asked, who.readable)

    @routes.get("/models")
    def models(request: Request) -> dict[str, Any]:
        caller(request)
        return {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "assistant"}]}

    @routes.post("/chat/completions", response_model=None)
    def chat(body: ChatRequest, request: Request) -> dict[str, Any] | StreamingResponse:
        who = caller(request)
        scope = scoped(who, body)
        try:
            history = check_history(body.messages)
        except AssistantError as error:
            raise HTTPException(400, str(error)) from None
        if not history or history[-1]["role"] != "user" or not history[-1]["content"].strip():
            raise HTTPException(400, "the last message must be the user's question")
        question, earlier = history[-1]["content"].strip(), history[:-1]
        events = assistant.ask_stream(question, body.language, scope, earlier)
        completion = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        if body.stream:
            return StreamingResponse(_chunks(completion, events, who, audit, scope), media_type="text/event-stream")
        answer = _final(events)
        _audit_answer(audit, who, answer, scope)
        return {
            "id": completion,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": MODEL,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": answer.text}, "finish_reason": "stop"}
            ],
            **_checked(answer),
        }

    @routes.post("/search")
    def search(body: SearchRequest, request: Request) -> dict[str, Any]:
        who = caller(request)
        scope = scoped(who, body)
        try:
            hits = assistant.search(body.query, k=body.k, scope=scope, history=check_history(body.history))
        except AssistantError as error:
            raise HTTPException(400, str(error)) from None
        audit.record(who.user, "api_search", query=body.query, collections=searched_collections(scope))
        return {"object": "list", "data": [hit.model_dump(exclude={"source"}) for hit in hits]}

    return routes


def openai_error(request: Request, error: Exception) -> JSONResponse:
    """An HTTP error in OpenAI's shape ({"error": {"message", "type", "code"}}), which its clients read."""
    status = error.status_code if isinstance(error, HTTPException) else 500
    message = str(error.detail) if isinstance(error, HTTPException) else "internal error"
    kinds = {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        429: "rate_limit_error",
    }
    return JSONResponse({"error": {"message": message, "type": kinds.get(status, "api_error"), "code": status}}, status)


def _chunks(
    completion: str, events: Iterator[str | Answer], who: Caller, audit: AuditLog, scope: SearchFilter | None
) -> Iterator[str]:
    """Server-sent events as OpenAI streams them; the last chunk carries the checked answer."""
    created = int(time.time())

    def chunk(delta: dict[str, str], finish: str | None = None, **extra: Any) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        body = {"id": completion, "object": "chat.completion.chunk", "created": created, "model": MODEL}
        return f"data: {json.dumps(body | {'choices': [choice]} | extra, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    try:
        for event in events:
            if isinstance(event, Answer):
                _audit_answer(audit, who, event, scope)
                yield chunk({}, "stop", **_checked(event))
            else:
                yield chunk({"content": event})
    except Exception as error:  # said in the stream: the response has already started
        message = str(error) if isinstance(error, AssistantError) else f"{type(error).__name__}: {error}"
        yield f"data: {json.dumps({'error': {'message': message}}, ensure_ascii=False)}\n\n"
    yield "data: [DONE]\n\n"


def _final(events: Iterator[str | Answer]) -> Answer:
    try:
        answer = [event for event in events if isinstance(event, Answer)][-1]
    except AssistantError as error:
        raise HTTPException(503, str(error)) from None
    return answer


def _checked(answer: Answer) -> dict[str, Any]:
    """What the app shows beside an answer: whether it answers, its checked text and citations."""
    return {
        "answered": answer.answered,
        "answer": answer.text,
        "searched_for": answer.searched_for,
        "citations": [_citation(c) for c in answer.citations],
        "conflicts": [
            {"unit": c.unit, "figures": [{"value": f.value, "citation": _citation(f.citation)} for f in c.figures]}
            for c in answer.conflicts
        ],
    }


def _citation(citation: Citation) -> dict[str, Any]:
    """A citation as other systems get it: by title, date and document id, never a path of this server."""
    return citation.model_dump(exclude={"source"})


def _audit_answer(audit: AuditLog, who: Caller, answer: Answer, scope: SearchFilter | None) -> None:
    audit.record(
        who.user,
        "api_ask",
        question=answer.question,
        searched_for=answer.searched_for,
        collections=searched_collections(scope),
        answered=answer.answered,
        passages=[{"n": p.n, "doc_id": p.hit.doc_id, "chunk_id": p.hit.chunk_id} for p in answer.passages],
    )
