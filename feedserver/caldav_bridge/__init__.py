"""CalDAV: embedded Radicale in feedserver's aiohttp server, with feedserver's accounts,
rights, and a read-only ``bookings`` calendar per user published from the bookings."""
