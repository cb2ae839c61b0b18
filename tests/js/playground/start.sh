#!/usr/bin/env bash
# `make playground`: the bot in local mode plus Microsoft's M365 Agents Playground (a local
# Teams client) pointed at it, for a person to try the bot. Ctrl-C stops both.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
bot_port="${PORT:-3978}"
playground_port="${TEAMSAPPTESTER_PORT:-56150}"

cat >&2 <<MSG
WARNING: the Playground listens on EVERY network interface (port $playground_port) and has
no option to listen on loopback only. Anyone who can reach this machine on that port can
talk to your local bot through it. Use it on a machine behind a firewall.
MSG

cd "$repo"
# Local mode whatever .env says: the Playground sends no Bot Framework tokens, and a bot
# without credentials listens on 127.0.0.1 only.
MicrosoftAppId= MicrosoftAppPassword= PORT="$bot_port" \
  DATABASE_URL="${PLAYGROUND_DATABASE_URL:-sqlite://playground.sqlite3}" .venv/bin/incident-bot run &
bot=$!
trap 'kill "$bot" 2>/dev/null; wait "$bot" 2>/dev/null' EXIT
for _ in $(seq 1 100); do
  (echo >"/dev/tcp/127.0.0.1/$bot_port") 2>/dev/null && break
  kill -0 "$bot" 2>/dev/null || { echo "the bot did not start" >&2; exit 1; }
  sleep 0.2
done

cd "$repo/tests/js/playground"   # reads .m365agentsplayground.yml from here
../node_modules/.bin/agentsplayground start -e "http://127.0.0.1:$bot_port/api/messages" \
  -c msteams -p "$playground_port" --disable-telemetry
