"""The bridge: inbound calendar events and invitations to the invite address become bookings."""
