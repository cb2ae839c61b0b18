"""One measured round against one server, and a single-message probe before the rounds.

The load generator runs as a child process; replies are counted on the fake connector
before and after it, so a server that answers 2xx without replying is caught.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from bench.load import Job, LoadResult
from bench.message import HELP_TEXT, channel_message
from bench.processes import Children, cpu_seconds, get_json
from bench.servers import REPO_ROOT, Server


@dataclass
class RoundResult:
    """The load generator's figures plus the replies the connector saw meanwhile."""

    load: LoadResult
    replies: int
    server_cpu_s: float

    @property
    def server_cpu_us_per_request(self) -> float:
        """What one answered request cost the server, in CPU microseconds."""
        return self.server_cpu_s / max(self.load.ok_total, 1) * 1e6

    @property
    def load_cpu_share(self) -> float:
        """How busy the load generator was (1.0 = one full core): near 1 means it limits."""
        return self.load.cpu_s / max(self.load.wall_s, 1e-9)

    @property
    def replies_complete(self) -> bool:
        return self.replies >= self.load.ok_total


@dataclass
class Probe:
    """What one message did: the HTTP answer and the reply (if any) it produced."""

    status: int
    body: str
    replies: int
    reply: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300 and self.replies >= 1


def reply_count(connector: Server) -> int:
    return int(get_json(f"{connector.base_url}/count")["replies"])


def probe(server: Server, connector: Server) -> Probe:
    """Post one message and report the answer and the reply it caused."""
    before = reply_count(connector)
    message = channel_message(activity_id=f"probe-{uuid.uuid4().hex}",
                              service_url=f"{connector.base_url}/")
    request = urllib.request.Request(
        server.messages_url, data=json.dumps(message).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    # A reply sent from an outbox may come just after the answer: wait for it (briefly).
    replies = settled_replies(connector, before, 1) if 200 <= status < 300 else 0
    seen = get_json(f"{connector.base_url}/count")
    return Probe(status=status, body=body[:500].decode(errors="replace"),
                 replies=max(replies, int(seen["replies"]) - before),
                 reply=describe_reply(seen["last_reply"]))


def describe_reply(reply: Any) -> str:
    """A one-line summary of a reply activity: its type, text and card types."""
    if not isinstance(reply, dict):
        return repr(reply)[:120]
    kinds = [a.get("contentType", "?") for a in reply.get("attachments") or []]
    text = reply.get("text")
    parts = [str(reply.get("type"))] + ([f"text={text!r}"] if text else []) + kinds
    return " ".join(parts)


def measure(server: Server, connector: Server, children: Children, *, concurrency: int,
            duration: float, warmup: float, text: str = HELP_TEXT) -> RoundResult:
    """Run the load generator once against `server` and count the replies it caused."""
    before = reply_count(connector)
    cpu_before = cpu_seconds(server.child.pid)
    argv = [sys.executable, "-m", "bench.load", "--url", server.messages_url,
            "--service-url", f"{connector.base_url}/", "--concurrency", str(concurrency),
            "--duration", str(duration), "--warmup", str(warmup), "--text", text]
    load = children.start(f"load-{server.name}", argv, cwd=REPO_ROOT, separate_stdout=True)
    returncode = load.popen.wait(timeout=warmup + duration + 120)
    children.stop(load)
    if returncode != 0:
        raise RuntimeError(f"load generator failed ({returncode}):\n{load.log_tail()}")
    lines = load.out_path.read_text().splitlines()
    load.out_path.unlink()  # the next round's generator writes a fresh result
    result = LoadResult(**json.loads(lines[-1]))
    replies = settled_replies(connector, before, result.ok_total)
    return RoundResult(load=result, replies=replies,
                       server_cpu_s=cpu_seconds(server.child.pid) - cpu_before)


def settled_replies(connector: Server, before: int, expected: int, *, wait: float = 2.0) -> int:
    """Replies since `before`, waiting briefly for stragglers if fewer than `expected`."""
    deadline = time.monotonic() + wait
    while True:
        replies = reply_count(connector) - before
        if replies >= expected or time.monotonic() > deadline:
            return replies
        time.sleep(0.1)


def run_job(load: Server, job: Job) -> LoadResult:
    """Have the load server run `job` and return what it measured."""
    request = urllib.request.Request(
        f"{load.base_url}/run", data=json.dumps(asdict(job)).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=job.warmup + job.duration + 120) as response:
        return LoadResult(**json.loads(response.read()))


def quiesce(connector: Server, *, quiet_s: float = 0.3, limit_s: float = 5.0) -> float:
    """Wait until the connector's counts stop moving (background sends of the last load are
    done, so they do not load the next measurement); returns the seconds waited."""
    start = time.monotonic()
    def counts() -> dict[str, Any]:
        seen = get_json(f"{connector.base_url}/count")
        del seen["last_reply"]  # a copy of the last reply, not a count
        return seen

    last, changed = counts(), start
    while time.monotonic() - start < limit_s:
        time.sleep(0.1)
        seen = counts()
        if seen != last:
            last, changed = seen, time.monotonic()
        elif time.monotonic() - changed >= quiet_s:
            break
    return time.monotonic() - start
