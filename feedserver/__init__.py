"""feedserver: signed .ics feeds, CalDAV and calendar-to-booking bridge for booking systems."""

__version__ = "0.1.0"
