"""Reading staff members' own calendars for busy times, safely: no request to private
networks, bounded size and time, conditional requests so an unchanged calendar costs one
small answer."""
