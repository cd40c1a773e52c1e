"""Serving .ics subscription feeds at static-file speed (``service``): links held in memory,
rendered feeds cached with their gzip form and ETag until a change concerns them. The links
themselves (who owns them, what they show) are ``feedserver.domain.feed_links``; the rendering
is ``feedserver.calendar.render``; the HTTP side is ``feedserver.web.feeds``."""
