"""incident-bot: incident response run from Microsoft Teams."""

__version__ = "0.1.0"
