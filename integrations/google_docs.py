"""The Post Incident Review as a Google Doc, through Drive v3, as a delegated Workspace user.

Drive converts an uploaded HTML file into a Google Doc when the file's metadata asks for
`application/vnd.google-apps.document`: one multipart `files.create` does it all. The
file carries the export's request id as a private `appProperties` entry, so a retry of
the same request finds the document an earlier try made instead of creating another.

The client is synchronous: every request runs in a worker thread, on its own
`httplib2.Http` (they are not thread-safe) whose socket timeout is what is left of the
one deadline the whole export runs under.

google-api-python-client quirk (2.202): with `client_options={"api_endpoint": …}` plain
calls go to `<api_endpoint>files`, but a media upload goes to the discovery document's
absolute upload URL `https://www.googleapis.com/upload/drive/v3/files` with only the host
swapped for the endpoint's: the scheme stays `https` and any path in the endpoint is
ignored. The exporter gives the upload the endpoint's scheme, so an `http://` endpoint
(a local emulator or proxy) works; the path stays `/upload/drive/v3/files`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import httplib2
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2 import service_account
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import HttpRequest, MediaIoBaseUpload

from bot.errors import BotError

logger = logging.getLogger(__name__)

DRIVE_FILE_SCOPE = "https://www.googleapis.com/auth/drive.file"
GOOGLE_DOC = "application/vnd.google-apps.document"
REQUEST_PROPERTY = "incidentBotRequest"
# Google's reasons for a 403 that only means "slow down".
_RATE_LIMIT_REASONS = {
    "rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED",
}
# Each call's socket timeout is what is left of the deadline, but never less than this.
_MIN_SOCKET_TIMEOUT_S = 0.1

Service = Any  # googleapiclient builds its resources at run time from discovery JSON


class ExportError(BotError):
    """The document could not be exported; `retryable` for timeouts, network errors, 429
    and 5xx. The message never contains a credential: it may be shown to users."""

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class DocRef:
    """The exported Google Doc: its Drive file id and the link to open it."""

    document_id: str
    url: str


class GoogleDocsExporter:
    """Creates Google Docs from HTML in `delegated_user`'s Drive, with a service account's
    domain-wide delegation for the `drive.file` scope."""

    def __init__(
        self,
        *,
        service_account_file: str,
        delegated_user: str,
        api_endpoint: str = "",
        timeout_s: float = 30,
    ) -> None:
        if not delegated_user.strip():
            # A service account's own Drive has no storage quota: impersonate a user.
            raise ExportError("no Google user to create the document as", retryable=False)
        try:
            # google-auth leaves from_service_account_file() unannotated.
            credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                service_account_file, scopes=[DRIVE_FILE_SCOPE], subject=delegated_user
            )
        except (OSError, ValueError) as exc:
            raise ExportError(
                f"the Google service account file cannot be used ({type(exc).__name__})",
                retryable=False,
            ) from exc
        self._credentials = credentials
        self._api_endpoint = api_endpoint
        self._timeout_s = timeout_s
        self._service: Service | None = None

    async def export(self, *, title: str, html: str, request_id: str) -> DocRef:
        """Upload `html` (UTF-8) as a Google Doc named `title`; a retry with the same
        `request_id` returns the document an earlier try created."""
        deadline = time.monotonic() + self._timeout_s
        try:
            async with asyncio.timeout(self._timeout_s):
                found = await self._find(request_id, deadline)
                if found is not None:
                    logger.info(
                        "google doc %s reused for request %s", found.document_id, request_id
                    )
                    return found
                created = await self._create(title, html, request_id, deadline)
        except TimeoutError:
            raise ExportError(f"Google did not answer within {self._timeout_s:g} s") from None
        except HttpError as exc:
            raise _error_from_http(exc) from exc
        except RefreshError as exc:
            raise ExportError(
                f"Google refused the service account a token ({_first_line(exc)})",
                retryable=exc.retryable,
            ) from exc
        except (TransportError, httplib2.HttpLib2Error, OSError) as exc:
            raise ExportError(f"Google could not be reached ({type(exc).__name__})") from exc
        logger.info("google doc %s created for request %s", created.document_id, request_id)
        return created

    async def _find(self, request_id: str, deadline: float) -> DocRef | None:
        query = (
            f"appProperties has {{ key='{REQUEST_PROPERTY}' and "
            f"value='{_quote(request_id)}' }} and trashed=false"
        )
        answer = await self._execute(
            lambda drive: drive.files().list(
                q=query, fields="files(id,webViewLink)", pageSize=10
            ),
            deadline,
        )
        files = [f for f in answer.get("files") or [] if f.get("id")]
        return _doc_ref(files[0]) if files else None

    async def _create(self, title: str, html: str, request_id: str, deadline: float) -> DocRef:
        metadata = {
            "name": title,
            "mimeType": GOOGLE_DOC,
            "appProperties": {REQUEST_PROPERTY: request_id},
        }

        def make_request(drive: Service) -> HttpRequest:
            media = MediaIoBaseUpload(
                BytesIO(html.encode("utf-8")), mimetype="text/html", resumable=False
            )
            request = drive.files().create(
                body=metadata, media_body=media, fields="id,webViewLink"
            )
            request.uri = self._upload_uri(request.uri)
            return request

        answer = await self._execute(make_request, deadline)
        if not answer.get("id"):
            raise ExportError("Google Drive answered without the document's id")
        return _doc_ref(answer)

    def _upload_uri(self, uri: str) -> str:
        """The upload URL with the endpoint's scheme (see the module's docstring)."""
        if not self._api_endpoint:
            return uri
        scheme = urllib.parse.urlsplit(self._api_endpoint).scheme
        parts = urllib.parse.urlsplit(uri)
        return urllib.parse.urlunsplit(parts._replace(scheme=scheme or parts.scheme))

    async def _execute(
        self, make_request: Callable[[Service], HttpRequest], deadline: float
    ) -> dict[str, Any]:
        def call() -> dict[str, Any]:
            left = max(deadline - time.monotonic(), _MIN_SOCKET_TIMEOUT_S)
            http = AuthorizedHttp(self._credentials, http=httplib2.Http(timeout=left))
            try:
                answer: dict[str, Any] = make_request(self._drive()).execute(http=http)
                return answer
            finally:
                http.close()

        return await asyncio.to_thread(call)

    def _drive(self) -> Service:
        # Built on first use, in a worker thread: parsing the discovery JSON takes a while.
        if self._service is None:
            options = {"api_endpoint": self._api_endpoint} if self._api_endpoint else None
            self._service = build(
                "drive",
                "v3",
                credentials=self._credentials,
                static_discovery=True,
                cache_discovery=False,
                client_options=options,
            )
        return self._service


def _quote(value: str) -> str:
    """`value` inside a single-quoted Drive query string."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _doc_ref(file: dict[str, Any]) -> DocRef:
    document_id = str(file["id"])
    url = file.get("webViewLink") or f"https://docs.google.com/document/d/{document_id}/edit"
    return DocRef(document_id=document_id, url=str(url))


def _reasons(exc: HttpError) -> set[str]:
    """Reasons in Google's error JSON: `details[].reason` (ErrorInfo) or `errors[].reason`
    (Drive's format)."""
    details = exc.error_details if isinstance(exc.error_details, list) else []
    return {str(d["reason"]) for d in details if isinstance(d, dict) and "reason" in d}


def _error_from_http(exc: HttpError) -> ExportError:
    status = exc.status_code
    rate_limited = status == 403 and bool(_reasons(exc) & _RATE_LIMIT_REASONS)
    retryable = status in (408, 429) or status >= 500 or rate_limited
    reason = f": {exc.reason[:200]}" if exc.reason else ""
    return ExportError(
        f"Google Drive refused to export the document (HTTP {status}{reason})",
        retryable=retryable,
    )


def _first_line(exc: RefreshError) -> str:
    return str(exc.args[0] if exc.args else exc).splitlines()[0][:300]
