"""What every channel shares about calendar data: iCalendar rendering of bookings (feeds,
CalDAV, invitations), iTIP parsing and building, the one template engine and the values a
booking offers to templates. Pure functions of model values: no store, no I/O."""
