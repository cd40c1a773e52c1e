"""The bridge's inbound side: calendar events that invite the invite address become bookings.

Sources (``caldav``: writes to users' own CalDAV calendars; ``listener``: the SMTP listener;
``mail``: reading iMIP email; ``POST /api/inbound`` and ``feedserver inbound`` hand items in
directly) → the inbox (``inbox``: every item stored raw first, then processed, retried when it
failed for a passing reason) → the rules (``pipeline``: organizer, location code, version
order, cancellation).
"""
