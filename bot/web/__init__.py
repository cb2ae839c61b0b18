"""HTTP: the aiohttp routes Teams and operators talk to."""
