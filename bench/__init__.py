"""Throughput benchmark: our bot against a bare aiohttp echo and the stock SDK echo.

`python -m bench` starts every server, a fake Bot Connector and the load generator as
separate processes on loopback, and prints the bot's throughput as a ratio of the bare
floor measured in the same run (numbers from another machine or day are not comparable).
"""
