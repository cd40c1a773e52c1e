"""HTTP: the aiohttp application, its middlewares and handlers. Handlers call the domain."""
