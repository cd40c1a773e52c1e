"""The CalDAV server: Radicale embedded in feedserver's aiohttp server under ``/dav`` (``server``),
with feedserver's accounts and app passwords (``auth``), each user's own tree (``rights``), an
indexed storage that tells the inbound bridge of client writes (``storage``), and the read-only
``bookings`` calendar of each user answered from the store (``bookings``); ``layout`` upgrades
CalDAV folders written by older releases."""
