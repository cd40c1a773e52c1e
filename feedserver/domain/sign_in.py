"""People signing in to the web app: sessions, passwords set from a link (invitation or
reset), and password changes.

A session id is 32 random bytes in a cookie; the table keeps only its SHA-256, so a copy of
the database signs nobody in. Signing in always starts a new session (the id is rotated);
signing out ends it; a password change ends every other session of the person.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from feedserver.domain.accounts import MIN_PASSWORD
from feedserver.errors import InvalidInput, NotFound
from feedserver.model import User, WebSession
from feedserver.passwords import hash_password
from feedserver.store import Store
from feedserver.times import utcnow
from feedserver.tokens import InvalidToken
from feedserver.tokens.account_links import AccountLinks


def digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True)
class SignedIn:
    user: User
    session: WebSession


def start_session(store: Store, user_id: int, lifetime: timedelta, replaces: str = "") -> str:
    """A new session for a user (ending ``replaces``, the browser's previous one); returns
    the id for the cookie."""
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    session = WebSession(
        id_digest=digest(session_id),
        user_id=user_id,
        csrf=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + lifetime,
    )
    with store.transaction():
        if replaces:
            store.sessions.delete(digest(replaces))
        store.sessions.prune(now)
        store.sessions.create(session)
    return session_id


def find_session(store: Store, session_id: str) -> SignedIn | None:
    if not session_id or len(session_id) > 100:
        return None
    session = store.sessions.get(digest(session_id), utcnow())
    if session is None:
        return None
    user = store.users.get(session.user_id)
    return SignedIn(user, session) if user is not None and user.active else None


def end_session(store: Store, session_id: str) -> None:
    with store.transaction():
        store.sessions.delete(digest(session_id))


def check_new_password(password: str, repeated: str | None = None) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(
            f"password must have at least {MIN_PASSWORD} characters", field="password"
        )
    if len(password) > 1024:
        raise InvalidInput("password is too long", field="password")
    if repeated is not None and repeated != password:
        raise InvalidInput("the two passwords differ", field="password_again")
    return password


def set_password(store: Store, user_id: int, password_hash: str, keep_session: str = "") -> None:
    """Store a new password hash (made off the store thread: scrypt is slow) and end every
    session of the person but ``keep_session`` (the browser that changed it)."""
    with store.transaction():
        if store.users.get(user_id) is None:
            raise NotFound(f"no user {user_id}")
        store.users.set_password_hash(user_id, password_hash)
        store.sessions.delete_for_user(user_id, digest(keep_session) if keep_session else None)


def link_for(store: Store, links: AccountLinks, user_id: int) -> str:
    """A token that lets ``user_id`` set a password once (invitation or reset)."""
    return links.make(user_id, store.users.password_hash_of(user_id))


def user_of_link(store: Store, links: AccountLinks, token: str) -> User:
    """The person a set-password link is for; InvalidToken if it is forged, expired, or used
    (the password changed since it was made)."""
    user_id, expected = links.user_id(token)
    user = store.users.get(user_id)
    if user is None or not links.still_valid(expected, store.users.password_hash_of(user_id)):
        raise InvalidToken
    return user


def new_hash(password: str) -> str:
    return hash_password(password)
