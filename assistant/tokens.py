"""API tokens: made by admins for a user, stored hashed, revocable; each carries its user's role and grants.

A token is `ba_<id>_<secret>`: the id finds its record, the secret (32 random bytes) is kept only
as a SHA-256 digest. A slow password hash is not needed for a secret that cannot be guessed, and
SHA-256 keeps every API call cheap. The token is shown once, when it is made. What it may do is
looked up at each call from its user (role, grants), so revoking a grant or removing the user
takes effect on the next call.
"""

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError, NotFoundError
from assistant.private_files import locked, write_private_json

_PREFIX = "ba"


class TokenError(AssistantError):
    """A token file that cannot be read."""


class TokenStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def create(self, user: str, label: str = "") -> tuple[str, str]:
        """A new token for user: (its id, the token itself, which is never stored)."""
        token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        record = {"user": user, "label": label, "digest": _digest(secret), "created": _now(), "revoked": None}
        self._change(lambda tokens: tokens.__setitem__(token_id, record))
        return token_id, f"{_PREFIX}_{token_id}_{secret}"

    def revoke(self, token_id: str) -> None:
        def change(tokens: dict[str, Any]) -> None:
            if token_id not in tokens:
                raise NotFoundError(f"there is no token {token_id!r} (see `tokens list`)")
            tokens[token_id]["revoked"] = tokens[token_id]["revoked"] or _now()

        self._change(change)

    def revoke_user(self, user: str) -> None:
        """Revoke every token of a user who is removed."""

        def change(tokens: dict[str, Any]) -> None:
            for record in tokens.values():
                if record["user"] == user and not record["revoked"]:
                    record["revoked"] = _now()

        self._change(change)

    def listing(self) -> dict[str, dict[str, Any]]:
        """Every token's id with its user, label and dates; never a secret or a digest."""
        return {
            token_id: {k: v for k, v in record.items() if k != "digest"} for token_id, record in self._read().items()
        }

    def user_of(self, token: str) -> str | None:
        """The user a live token belongs to, or None (unknown, malformed, revoked), in time that does not tell which."""
        prefix, _, rest = token.partition("_")
        token_id, _, secret = rest.partition("_")
        record = self._read().get(token_id) if prefix == _PREFIX else None
        digest = record["digest"] if record else _digest("no such token")
        if hmac.compare_digest(digest, _digest(secret)) and record and not record["revoked"]:
            return str(record["user"])
        return None

    def _change(self, change: Callable[[dict[str, Any]], None]) -> None:
        with locked(self.path):
            tokens = self._read()
            change(tokens)
            write_private_json(self.path, {"tokens": tokens})

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        try:
            tokens: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))["tokens"]
        except (ValueError, KeyError) as error:
            raise TokenError(f"the token file {self.path} is damaged ({error}); restore it from a backup") from None
        return tokens


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
