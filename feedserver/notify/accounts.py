"""Account mail: the emailed links that let a person set a password (an invitation to a new
account, a "forgot password?" reset), each queued in the outbox in the same transaction as the
change that calls for it. Built once (``wiring``); the web pages only call it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from feedserver.domain import accounts, sign_in
from feedserver.model import User
from feedserver.notify import messages
from feedserver.notify.planner import account_link_message
from feedserver.store import Store
from feedserver.tokens.account_links import AccountLinks

INVITATION = "invitation"
PASSWORD_RESET = "password_reset"  # noqa: S105 - a kind of link, not a password


@dataclass(frozen=True)
class AccountMail:
    invitations: AccountLinks
    reset_links: AccountLinks
    public_url: str
    language: str  # of people who chose none
    sender_name: str

    def links(self, kind: str) -> AccountLinks | None:
        """The signer of ``kind`` (``invitation`` or ``password_reset``), or None."""
        return {INVITATION: self.invitations, PASSWORD_RESET: self.reset_links}.get(kind)

    def _queue(self, store: Store, user: User, kind: str) -> None:
        links = self.invitations if kind == INVITATION else self.reset_links
        token = sign_in.link_for(store, links, user.id)
        language = user.language or self.language
        account_link_message(
            store,
            user,
            kind,
            f"{self.public_url}/set-password/{kind}/{token}",
            messages.validity_words(links.max_age // 60, language),
            language,
            self.sender_name,
        )

    def invite(self, store: Store, data: dict[str, Any]) -> User:
        """A new account without a password, and its invitation, in one transaction."""
        with store.transaction():
            made = accounts.create_user(store, data)
            self._queue(store, made, INVITATION)
        return made

    def send_password_link(self, store: Store, person_id: int) -> None:
        """An invitation to a person who never had a password (customers made by the API or
        the bridge), else a reset."""
        person = accounts.find_user(store, person_id)
        kind = PASSWORD_RESET if store.users.password_hash_of(person.id) else INVITATION
        with store.transaction():
            self._queue(store, person, kind)

    def request_reset(self, store: Store, email: str) -> None:
        """A reset link to the account of ``email``, if there is one (nothing says whether)."""
        user = store.users.get_by_email(email)
        if user is not None:
            with store.transaction():
                self._queue(store, user, PASSWORD_RESET)
