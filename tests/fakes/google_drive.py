"""A loopback Google Drive v3 (files.list and multipart files.create), on top of the
loopback Google's OAuth token endpoint.

With `client_options={"api_endpoint": fake.url}` google-api-python-client sends
`files.list` to `GET /files` (the endpoint replaces rootUrl + servicePath) but a media
upload to `POST /upload/drive/v3/files?uploadType=multipart` at the endpoint's host: the
library builds upload URLs from the discovery document's rootUrl, swapping only the host.
Errors come in Drive's format: `{"error": {"errors": [{"domain", "reason", "message"}],
"code", "message"}}`.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.google import FakeGoogle, Fault, Request
from tests.fakes.loopback import serve

DRIVE_FILE_SCOPE = "https://www.googleapis.com/auth/drive.file"
GOOGLE_DOC = "application/vnd.google-apps.document"
UPLOAD_PATH = "/upload/drive/v3/files"
# The one query shape the fake understands (Drive's query language, much reduced).
_APP_PROPERTY_QUERY = re.compile(
    r"appProperties has \{ key='((?:[^'\\]|\\.)*)' and value='((?:[^'\\]|\\.)*)' \}"
    r" and trashed=false"
)
_FIELDS_LIST = re.compile(r"files\(([^)]*)\)")


@dataclass
class Upload:
    """What a multipart upload carried: the metadata part and the media part."""

    metadata: dict[str, Any]
    media_type: str
    media: str


@dataclass
class DriveFile:
    id: str
    name: str
    mimeType: str
    appProperties: dict[str, str]
    owner: str
    content: str = ""
    trashed: bool = False
    webViewLink: str | None = None

    def resource(self) -> dict[str, Any]:
        file = {"kind": "drive#file", "id": self.id, "name": self.name,
                "mimeType": self.mimeType, "appProperties": self.appProperties,
                "trashed": self.trashed}
        if self.webViewLink:
            file["webViewLink"] = self.webViewLink
        return file


@dataclass
class FakeGoogleDrive(FakeGoogle):
    """Start with `await fake.start()`; `url` is the api_endpoint, `token_uri` the token URL.

    `files` are the Drive files by id; `web_view_links=False` leaves webViewLink out of
    answers. Faults and hangs are per endpoint: "token", "list" or "upload"."""

    files: dict[str, DriveFile] = field(default_factory=dict)
    web_view_links: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self._faults.update({"list": [], "upload": []})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_get("/files", self._list_files)
        app.router.add_post(UPLOAD_PATH, self._upload_file)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner, self.url = await serve(app)

    def calls(self, endpoint: str) -> list[Request]:
        """Requests to "token", "list", "upload" or "drive" (both), in arrival order."""
        match = {
            "token": lambda r: r.path == "/token",
            "list": lambda r: (r.method, r.path) == ("GET", "/files"),
            "upload": lambda r: r.path == UPLOAD_PATH,
            "drive": lambda r: r.path != "/token",
        }[endpoint]
        return [r for r in self.requests if match(r)]

    def add_file(self, *, name: str, owner: str, app_properties: dict[str, str],
                 trashed: bool = False) -> DriveFile:
        """A file that is already in Drive (made by an earlier run, say)."""
        file = DriveFile(_file_id(), name, GOOGLE_DOC, dict(app_properties), owner,
                         trashed=trashed)
        file.webViewLink = _web_view_link(file.id)
        self.files[file.id] = file
        return file

    # --- files.list ---------------------------------------------------------------------

    async def _list_files(self, request: web.Request) -> web.StreamResponse:
        recorded = self._record(request, None)
        response = await self._drive_fault("list") or self._list(request)
        recorded.status = response.status
        return response

    def _list(self, request: web.Request) -> web.Response:
        grant = self._grant_for(request, DRIVE_FILE_SCOPE)
        if isinstance(grant, web.Response):
            return grant
        query = _APP_PROPERTY_QUERY.fullmatch(request.query.get("q", ""))
        if query is None:
            return _drive_error(400, "invalid", "Invalid Value", location="q")
        key, value = (_unquote(g) for g in query.groups())
        owner = grant.sub or grant.iss
        # drive.file: the app sees only the files it made, in the impersonated user's Drive.
        found = [
            f for f in self.files.values()
            if f.owner == owner and not f.trashed and f.appProperties.get(key) == value
        ]
        fields = _FIELDS_LIST.fullmatch(request.query.get("fields", ""))
        wanted = fields.group(1).split(",") if fields else ["kind", "id", "name", "mimeType"]
        return web.json_response(
            {"files": [self._answer(f, wanted) for f in found]}
        )

    # --- files.create (multipart upload) --------------------------------------------------

    async def _upload_file(self, request: web.Request) -> web.StreamResponse:
        recorded = self._record(request, _multipart(request.headers.get("Content-Type", ""),
                                                    await request.read()))
        response = await self._drive_fault("upload") or self._create(request, recorded.body)
        recorded.status = response.status
        return response

    def _create(self, request: web.Request, upload: Upload | None) -> web.Response:
        grant = self._grant_for(request, DRIVE_FILE_SCOPE)
        if isinstance(grant, web.Response):
            return grant
        if request.query.get("uploadType") != "multipart" or upload is None:
            return _drive_error(400, "badContent", "Unsupported content with type: "
                                f"{request.headers.get('Content-Type', '')}")
        metadata = upload.metadata
        mime_type = metadata.get("mimeType") or upload.media_type
        if mime_type == GOOGLE_DOC and upload.media_type.split(";")[0] != "text/html":
            return _drive_error(400, "badContent", "The conversion is not supported.")
        file = DriveFile(_file_id(), str(metadata.get("name") or "Untitled"), mime_type,
                         dict(metadata.get("appProperties") or {}), grant.sub or grant.iss,
                         content=upload.media)
        if mime_type == GOOGLE_DOC:
            file.webViewLink = _web_view_link(file.id)
        self.files[file.id] = file
        fields = request.query.get("fields")
        wanted = fields.split(",") if fields else ["kind", "id", "name", "mimeType"]
        return web.json_response(self._answer(file, wanted))

    # --- plumbing ------------------------------------------------------------------------

    def _answer(self, file: DriveFile, wanted: list[str]) -> dict[str, Any]:
        resource = file.resource()
        if not self.web_view_links:
            resource.pop("webViewLink", None)
        return {k: resource[k] for k in wanted if k in resource}

    async def _drive_fault(self, endpoint: str) -> web.Response | None:
        if not self._faults[endpoint]:
            return None
        fault: Fault = self._faults[endpoint].pop(0)
        if fault.hang_s:
            try:
                await asyncio.wait_for(self._release.wait(), fault.hang_s)
            except TimeoutError:
                pass
            return None
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
        reason = fault.reason or {403: "forbidden", 404: "notFound", 429: "rateLimitExceeded",
                                  400: "badRequest"}.get(fault.status, "backendError")
        return _drive_error(fault.status, reason, "injected fault", headers=headers)


def _multipart(content_type: str, body: bytes) -> Upload | None:
    """The metadata and media parts of a multipart/related body, or None."""
    if not content_type.startswith("multipart/related"):
        return None
    message = email.message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body, policy=email.policy.HTTP
    )
    parts = list(message.iter_parts())
    if len(parts) != 2 or parts[0].get_content_type() != "application/json":
        return None
    metadata = json.loads(parts[0].get_payload(decode=True))
    media = parts[1].get_payload(decode=True)
    return Upload(metadata, str(parts[1]["Content-Type"]), media.decode("utf-8"))


def _unquote(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def _file_id() -> str:
    return "1" + secrets.token_urlsafe(32)[:43]


def _web_view_link(file_id: str) -> str:
    return f"https://docs.google.com/document/d/{file_id}/edit?usp=drivesdk"


def _drive_error(status: int, reason: str, message: str, *, location: str | None = None,
                 headers: dict[str, str] | None = None) -> web.Response:
    error: dict[str, Any] = {"domain": "global", "reason": reason, "message": message}
    if location:
        error.update(locationType="parameter", location=location)
    return web.json_response(
        {"error": {"errors": [error], "code": status, "message": message}},
        status=status, headers=headers,
    )
