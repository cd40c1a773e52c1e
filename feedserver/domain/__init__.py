"""The core rules, shared by every channel: bookings (``bookings``, typed commands in
``commands``, recurrences in ``recurrence``), locations and types (``catalog``), accounts and
app passwords, feed links and feed templates (``feed_links``), online meetings (``meetings``)
and notification switches (``notification_settings``). On top of the store; no HTTP, no SQL."""
