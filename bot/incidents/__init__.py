"""The incident domain: pure async services on the store's models.

Imports neither botbuilder nor aiohttp. Services take plain values (people, texts, ids),
change state inside the caller's transaction, and say what should be told to whom as
`notices`; the transport turns those into Teams messages.
"""
