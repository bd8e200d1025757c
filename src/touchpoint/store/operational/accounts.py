"""Rows of users, sessions, API tokens, edited roles and ingestion keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from touchpoint.store.operational.schema import api_tokens, ingest_keys, roles, user_sessions, users


def add_user(connection: Connection, values: dict[str, Any]) -> int:
    """Insert a user; returns its id."""
    return _inserted_id(connection.execute(insert(users).values(**values)).inserted_primary_key)


def user_by_name(connection: Connection, username: str) -> dict[str, Any] | None:
    """One user by username, or None."""
    row = connection.execute(select(users).where(users.c.username == username)).mappings().first()
    return None if row is None else dict(row)


def user_by_id(connection: Connection, user_id: int) -> dict[str, Any] | None:
    """One user by id, or None."""
    row = connection.execute(select(users).where(users.c.id == user_id)).mappings().first()
    return None if row is None else dict(row)


def all_users(connection: Connection) -> list[dict[str, Any]]:
    """Every user by username."""
    return [dict(r) for r in connection.execute(select(users).order_by(users.c.username)).mappings()]


def update_user(connection: Connection, user_id: int, values: dict[str, Any]) -> None:
    """Change some of a user's columns."""
    connection.execute(update(users).where(users.c.id == user_id).values(**values))


def add_session(connection: Connection, values: dict[str, Any]) -> None:
    """Insert a session."""
    connection.execute(insert(user_sessions).values(**values))


def session_by_hash(connection: Connection, id_hash: str) -> dict[str, Any] | None:
    """One session by the hash of its secret, or None."""
    query = select(user_sessions).where(user_sessions.c.id_hash == id_hash)
    row = connection.execute(query).mappings().first()
    return None if row is None else dict(row)


def touch_session(connection: Connection, id_hash: str, *, seen: datetime, expires: datetime) -> None:
    """Record a use of a session and slide its idle expiry."""
    connection.execute(
        update(user_sessions)
        .where(user_sessions.c.id_hash == id_hash)
        .values(last_seen_at=seen, expires_at=expires)
    )


def revoke_sessions(
    connection: Connection, *, now: datetime, user_id: int, id_hash: str | None = None
) -> int:
    """End one session of a user, or all of them; returns how many were open."""
    query = update(user_sessions).where(
        user_sessions.c.user_id == user_id, user_sessions.c.revoked_at.is_(None)
    )
    if id_hash is not None:
        query = query.where(user_sessions.c.id_hash == id_hash)
    return int(connection.execute(query.values(revoked_at=now)).rowcount)


def add_token(connection: Connection, values: dict[str, Any]) -> int:
    """Insert an API token; returns its id."""
    return _inserted_id(connection.execute(insert(api_tokens).values(**values)).inserted_primary_key)


def token_by_hash(connection: Connection, token_hash: str) -> dict[str, Any] | None:
    """One token by the hash of its secret, or None."""
    row = (
        connection.execute(select(api_tokens).where(api_tokens.c.token_hash == token_hash)).mappings().first()
    )
    return None if row is None else dict(row)


def tokens_of(connection: Connection, user_id: int) -> list[dict[str, Any]]:
    """A user's tokens, newest first."""
    query = select(api_tokens).where(api_tokens.c.user_id == user_id).order_by(api_tokens.c.id.desc())
    return [dict(r) for r in connection.execute(query).mappings()]


def update_token(connection: Connection, token_id: int, values: dict[str, Any]) -> int:
    """Change some of a token's columns; returns 1 when it exists."""
    return int(
        connection.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(**values)).rowcount
    )


def revoke_tokens_of(connection: Connection, user_id: int, *, now: datetime) -> int:
    """Revoke every open token of a user; returns how many."""
    query = update(api_tokens).where(api_tokens.c.user_id == user_id, api_tokens.c.revoked_at.is_(None))
    return int(connection.execute(query.values(revoked_at=now)).rowcount)


def edited_roles(connection: Connection) -> dict[str, dict[str, Any]]:
    """Roles an admin created or edited, by name."""
    return {r["name"]: dict(r) for r in connection.execute(select(roles)).mappings()}


def put_role(connection: Connection, values: dict[str, Any]) -> None:
    """Create or replace an edited role."""
    found = connection.execute(select(roles.c.name).where(roles.c.name == values["name"])).first()
    if found is None:
        connection.execute(insert(roles).values(**values))
    else:
        connection.execute(update(roles).where(roles.c.name == values["name"]).values(**values))


def add_ingest_key(connection: Connection, values: dict[str, Any]) -> int:
    """Insert an ingestion key; returns its id."""
    return _inserted_id(connection.execute(insert(ingest_keys).values(**values)).inserted_primary_key)


def ingest_key_rows(connection: Connection) -> list[dict[str, Any]]:
    """Every ingestion key, oldest first."""
    return [dict(r) for r in connection.execute(select(ingest_keys).order_by(ingest_keys.c.id)).mappings()]


def revoke_ingest_key(connection: Connection, key_id: int, *, now: datetime) -> int:
    """Revoke one key; returns 1 when it was open."""
    query = update(ingest_keys).where(ingest_keys.c.id == key_id, ingest_keys.c.revoked_at.is_(None))
    return int(connection.execute(query.values(revoked_at=now)).rowcount)


def _inserted_id(key: Any) -> int:
    assert key is not None
    return int(key[0])


def ingest_key_by_hash(connection: Connection, key_hash: str) -> dict[str, Any] | None:
    """One ingestion key by the hash of its secret, or None."""
    row = connection.execute(select(ingest_keys).where(ingest_keys.c.key_hash == key_hash)).mappings().first()
    return None if row is None else dict(row)
