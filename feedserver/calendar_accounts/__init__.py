"""People's own calendar accounts, written into: a small CalDAV client (``dav``), Google's
OAuth 2.0 (``google``), the credentials of each request (``access``), connecting and
disconnecting (``service``) and the worker that writes bookings there (``writer``)."""
