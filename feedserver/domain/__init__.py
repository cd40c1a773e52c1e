"""Business rules of the booking system, on top of the store. No HTTP, no SQL here."""
