"""The transport: the only package that imports botbuilder.

Everything Teams-specific (activities, mentions, cards, the Bot Connector REST API and its
tokens) lives here, so that the domain never sees a TurnContext and a successor SDK could
replace this package alone.
"""
