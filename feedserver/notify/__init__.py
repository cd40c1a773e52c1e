"""Notifications by email: which messages a booking change causes (``planner``), their wording
(``messages``: defaults and admins' templates), the MIME message with its iCalendar invitation
(``mime``), and delivery of the outbox over SMTP (``outbox``)."""
