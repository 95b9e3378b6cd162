"""Users and their roles, in a JSON file of salted scrypt hashes; no password is ever stored.

scrypt (hashlib, OpenSSL) is a memory-hard password hash that needs no extra package.
"""

import hashlib
import hmac
import json
import re
import secrets
from pathlib import Path
from typing import Literal, get_args

from assistant.errors import AssistantError, NotFoundError
from assistant.private_files import write_private_json

Role = Literal["official", "staff", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
# What each role may do; every handler checks its permission on the server.
PERMISSIONS: dict[str, frozenset[str]] = {
    "official": frozenset({"ask"}),
    "staff": frozenset({"ask", "brief"}),
    "admin": frozenset({"ask", "brief", "admin"}),
}
_NAME = re.compile(r"^[\w.@-]{1,64}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class UserError(AssistantError):
    """A user name, role or password that cannot be accepted."""


class UserStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def exists(self) -> bool:
        return self.path.is_file()

    def add(self, name: str, role: str, password: str) -> None:
        if not _NAME.match(name):
            raise UserError("a user name is 1-64 letters, digits, '.', '@', '_' or '-'")
        if role not in ROLES:
            raise UserError(f"the role must be one of {', '.join(ROLES)}")
        if len(password) < 8:
            raise UserError("a password needs at least 8 characters")
        users = self._read()
        salt = secrets.token_bytes(16)
        users[name] = {"role": role, "salt": salt.hex(), "hash": _hash(password, salt).hex()}
        self._write(users)

    def remove(self, name: str) -> None:
        users = self._read()
        if users.pop(name, None) is None:
            raise NotFoundError(f"there is no user {name!r}")
        self._write(users)

    def roles(self) -> dict[str, str]:
        return {name: user["role"] for name, user in sorted(self._read().items())}

    def authenticate(self, name: str, password: str) -> str | None:
        """The user's role if the password is right, else None (in time that does not tell which)."""
        user = self._read().get(name)
        salt = bytes.fromhex(user["salt"]) if user else b"no such user salt"
        digest = _hash(password, salt)
        if user and hmac.compare_digest(digest.hex(), user["hash"]):
            return str(user["role"])
        return None

    def _read(self) -> dict[str, dict[str, str]]:
        if not self.path.exists():
            return {}
        try:
            data: dict[str, dict[str, str]] = json.loads(self.path.read_text(encoding="utf-8"))["users"]
        except (ValueError, KeyError) as error:
            raise UserError(f"the users file {self.path} is damaged ({error}); restore it from a backup") from None
        return data

    def _write(self, users: dict[str, dict[str, str]]) -> None:
        write_private_json(self.path, {"users": users})


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, **_SCRYPT)
