"""Who may read which collection: the named collections, groups of users, and read grants.

Kept in ASSISTANT_DATA_DIR/access.json beside the users file. Access fails closed: a user reads
the collections granted to them or to a group they are in, nothing else; a collection that is
not in the registry (never created, or deleted) grants nothing, and its grants go with it.
Admins read every collection, since they are the ones who add and remove its documents.

What a user may read becomes the `collections` of the search filter (`confine`), so it is
applied inside retrieval like any other scope, never by hiding results afterwards.
"""

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError, NotFoundError
from assistant.private_files import locked, write_private_json
from assistant.types import DEFAULT_COLLECTION, SearchFilter
from assistant.users import UserStore

_NAME = re.compile(r"^[\w.\-]{1,64}$")  # \w is Unicode: Arabic names are allowed
Registry = dict[str, Any]


class AccessError(AssistantError):
    """A collection, group or grant that cannot be accepted."""


class AccessStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def at(cls, data_dir: Path) -> "AccessStore":
        """The registry in data_dir, made on first use.

        Made on the first start with collections: every document so far is in the default
        collection, and the users of that time keep reading it, by explicit grants that admins
        may revoke; users added later read only what they are granted.
        """
        store = cls(Path(data_dir) / "access.json")
        made = Path(data_dir) / ".access-made"  # once made, a missing registry is lost, not new
        with locked(store.path):
            if not store.path.exists() and not made.exists():
                existing = sorted(UserStore(Path(data_dir) / "users.json").roles())
                store._write({"collections": {DEFAULT_COLLECTION: {"users": existing, "groups": []}}, "groups": {}})
                made.touch()
        return store

    # -- reading --------------------------------------------------------------------------

    def collections(self) -> dict[str, dict[str, list[str]]]:
        """Each collection with the users and groups that may read it."""
        return dict(sorted(self._read()["collections"].items()))

    def groups(self) -> dict[str, list[str]]:
        return dict(sorted(self._read()["groups"].items()))

    def readable(self, user: str, role: str | None) -> frozenset[str] | None:
        """The collections user may read: None for an admin (every one), else only what is granted."""
        if role == "admin":
            return None
        if role is None:
            return frozenset()
        registry = self._read()
        groups = {group for group, members in registry["groups"].items() if user in members}
        return frozenset(
            name
            for name, readers in registry["collections"].items()
            if user in readers["users"] or groups & set(readers["groups"])
        )

    def require_collection(self, name: str) -> None:
        if name not in self._read()["collections"]:
            raise NotFoundError(f"there is no collection {name!r}; create it with `collections create {name}`")

    # -- changing -------------------------------------------------------------------------

    def create(self, name: str) -> None:
        _check_name(name, "collection")

        def change(registry: Registry) -> None:
            if name in registry["collections"]:
                raise AccessError(f"the collection {name!r} exists already")
            registry["collections"][name] = {"users": [], "groups": []}

        self._change(change)

    def rename(self, old: str, new: str) -> None:
        """Rename a collection in the registry, its grants with it (the index is renamed first, by the caller)."""
        _check_name(new, "collection")

        def change(registry: Registry) -> None:
            collections = registry["collections"]
            if old == DEFAULT_COLLECTION:
                raise AccessError(
                    f"{DEFAULT_COLLECTION!r} takes the documents added without a collection; it keeps its name"
                )
            if old not in collections:
                raise NotFoundError(f"there is no collection {old!r}")
            if new in collections:
                raise AccessError(f"the collection {new!r} exists already")
            collections[new] = collections.pop(old)

        self._change(change)

    def delete(self, name: str) -> None:
        """Forget a collection and every grant to it: created again later, it grants nothing."""

        def change(registry: Registry) -> None:
            if name == DEFAULT_COLLECTION:
                raise AccessError(f"the collection {DEFAULT_COLLECTION!r} takes documents added without one; it stays")
            if registry["collections"].pop(name, None) is None:
                raise NotFoundError(f"there is no collection {name!r}")

        self._change(change)

    def grant(self, collection: str, user: str | None = None, group: str | None = None) -> None:
        self._grants(collection, user, group, add=True)

    def revoke(self, collection: str, user: str | None = None, group: str | None = None) -> None:
        self._grants(collection, user, group, add=False)

    def create_group(self, name: str) -> None:
        _check_name(name, "group")

        def change(registry: Registry) -> None:
            if name in registry["groups"]:
                raise AccessError(f"the group {name!r} exists already")
            registry["groups"][name] = []

        self._change(change)

    def delete_group(self, name: str) -> None:
        def change(registry: Registry) -> None:
            if registry["groups"].pop(name, None) is None:
                raise NotFoundError(f"there is no group {name!r}")
            for readers in registry["collections"].values():
                readers["groups"] = [g for g in readers["groups"] if g != name]

        self._change(change)

    def set_membership(self, group: str, user: str, member: bool) -> None:
        def change(registry: Registry) -> None:
            if group not in registry["groups"]:
                raise NotFoundError(f"there is no group {group!r}")
            members = [m for m in registry["groups"][group] if m != user]
            registry["groups"][group] = sorted([*members, user]) if member else members

        self._change(change)

    def forget_user(self, user: str) -> None:
        """Drop a removed user's grants and memberships, so that a new user of that name inherits none."""

        def change(registry: Registry) -> None:
            for readers in registry["collections"].values():
                readers["users"] = [u for u in readers["users"] if u != user]
            for group, members in registry["groups"].items():
                registry["groups"][group] = [m for m in members if m != user]

        self._change(change)

    def _grants(self, collection: str, user: str | None, group: str | None, add: bool) -> None:
        if (user is None) == (group is None):
            raise AccessError("name either a user or a group")

        def change(registry: Registry) -> None:
            readers = registry["collections"].get(collection)
            if readers is None:
                raise NotFoundError(f"there is no collection {collection!r}")
            if group is not None and group not in registry["groups"]:
                raise NotFoundError(f"there is no group {group!r}")
            kind, who = ("users", user) if user is not None else ("groups", group)
            kept = [r for r in readers[kind] if r != who]
            readers[kind] = sorted([*kept, who]) if add else kept

        self._change(change)

    # -- the file -------------------------------------------------------------------------

    def _change(self, change: Callable[[Registry], None]) -> None:
        """Read, change and write the registry under a lock, so the app and the CLI never lose each other's changes."""
        with locked(self.path):
            registry = self._read()
            change(registry)
            self._write(registry)

    def _read(self) -> Registry:
        try:
            registry: Registry = json.loads(self.path.read_text(encoding="utf-8"))
            _check_registry(registry)
        except FileNotFoundError:
            raise AccessError(
                f"the access file {self.path} is missing, so no one may read anything; restore it from a backup"
            ) from None
        except (ValueError, KeyError, TypeError) as error:
            raise AccessError(f"the access file {self.path} is damaged ({error}); restore it from a backup") from None
        return registry

    def _write(self, registry: Registry) -> None:
        write_private_json(self.path, registry)


def _check_registry(registry: Registry) -> None:
    """Raise TypeError unless every grant and membership is a list of names (a string would match substrings)."""

    def names(value: object) -> bool:
        return isinstance(value, list) and all(isinstance(name, str) for name in value)

    collections, groups = registry["collections"], registry["groups"]
    if not isinstance(collections, dict) or not isinstance(groups, dict):
        raise TypeError("collections and groups must be objects")
    if not all(isinstance(r, dict) and names(r["users"]) and names(r["groups"]) for r in collections.values()):
        raise TypeError("each collection's users and groups must be lists of names")
    if not all(names(members) for members in groups.values()):
        raise TypeError("each group must be a list of user names")


def confine(scope: SearchFilter | None, readable: frozenset[str] | None) -> SearchFilter | None:
    """The scope a user asked for, narrowed to the collections they may read (None: no limit).

    An empty result stays an empty list, which admits nothing: it never widens to everything.
    """
    if readable is None:
        return scope
    return SearchFilter(collections=sorted(readable)).narrowed_by(scope)


def searched_collections(scope: SearchFilter | None) -> list[str] | str:
    """The collections a search read, as the audit log records them."""
    return "every collection" if scope is None or scope.collections is None else scope.collections


def _check_name(name: str, kind: str) -> None:
    if not _NAME.match(name):
        raise AccessError(f"a {kind} name is 1-64 letters (Arabic too), digits, '.', '_' or '-'")
