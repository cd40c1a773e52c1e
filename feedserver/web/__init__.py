"""HTTP: the JSON API handlers, the feed endpoint, the request context (request ids, errors,
change delivery, request log) and the one place domain errors become statuses (``errors``).
Handlers parse the request, call the domain or a channel, and shape the response."""
