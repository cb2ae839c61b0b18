"""The Google Docs exporter runs the real google-api-python-client against a loopback Drive."""

from __future__ import annotations

import asyncio
import logging
import time
from io import BytesIO
from pathlib import Path
from typing import Any

import jwt
import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.http import MediaIoBaseUpload

from bot.errors import BotError
from integrations.google_docs import DocRef, ExportError, GoogleDocsExporter
from tests.fakes.google import (
    ASSERTION_AUDIENCE,
    JWT_BEARER,
    ServiceAccount,
    write_service_account,
)
from tests.fakes.google_drive import (
    DRIVE_FILE_SCOPE,
    GOOGLE_DOC,
    UPLOAD_PATH,
    FakeGoogleDrive,
)

DELEGATE = "oncall@example.com"
TITLE = "INC-42 Post Incident Review: Checkout latency"
HTML = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>INC-42</title>'
        "</head><body><h1>INC-42 – Checkout latency ≥ 2 s</h1><p>Café “résumé”</p></body></html>")
LIST_QUERY = ("appProperties has { key='incidentBotRequest' and value='pir-42' } "
              "and trashed=false")


@pytest.fixture
def account(drive: FakeGoogleDrive, tmp_path: Path) -> ServiceAccount:
    written = write_service_account(tmp_path, drive.token_uri)
    drive.public_key = written.public_key
    return written


def exporter(drive: FakeGoogleDrive, account: ServiceAccount, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "service_account_file": str(account.path), "delegated_user": DELEGATE,
        "api_endpoint": drive.url, "timeout_s": 5, **overrides,
    }
    return GoogleDocsExporter(**values)


async def export(docs: GoogleDocsExporter, request_id: str = "pir-42") -> DocRef:
    return await docs.export(title=TITLE, html=HTML, request_id=request_id)


async def test_html_is_uploaded_as_a_google_doc(
    drive: FakeGoogleDrive, account: ServiceAccount
) -> None:
    await export(exporter(drive, account))

    [upload] = drive.calls("upload")
    assert (upload.method, upload.path) == ("POST", UPLOAD_PATH)
    assert upload.query == {"uploadType": "multipart", "fields": "id,webViewLink",
                            "alt": "json"}
    assert upload.headers["Content-Type"].startswith("multipart/related; boundary=")
    assert upload.headers["Authorization"] == f"Bearer {drive.grants[0].token}"
    assert upload.body.metadata == {
        "name": TITLE, "mimeType": GOOGLE_DOC,
        "appProperties": {"incidentBotRequest": "pir-42"},
    }
    assert upload.body.media_type == "text/html"
    assert upload.body.media == HTML
    [file] = drive.files.values()
    assert (file.name, file.mimeType, file.owner) == (TITLE, GOOGLE_DOC, DELEGATE)


async def test_doc_ref_is_the_file_drive_created(
    drive: FakeGoogleDrive, account: ServiceAccount
) -> None:
    doc = await export(exporter(drive, account))

    [file] = drive.files.values()
    assert doc == DocRef(document_id=file.id, url=file.webViewLink)
    assert doc.url == f"https://docs.google.com/document/d/{file.id}/edit?usp=drivesdk"


async def test_doc_url_without_a_web_view_link_is_the_editor_url(
    drive: FakeGoogleDrive, account: ServiceAccount
) -> None:
    drive.web_view_links = False

    doc = await export(exporter(drive, account))

    assert doc.url == f"https://docs.google.com/document/d/{doc.document_id}/edit"


async def test_existing_doc_is_looked_for_before_creating(
    drive: FakeGoogleDrive, account: ServiceAccount
) -> None:
    await export(exporter(drive, account))

    [listing, upload] = drive.calls("drive")
    assert (listing.method, listing.path) == ("GET", "/files")
    assert listing.query["q"] == LIST_QUERY
    assert listing.query["fields"] == "files(id,webViewLink)"
    assert listing.status == upload.status == 200


async def test_doc_an_earlier_run_made_is_reused(
    drive: FakeGoogleDrive, account: ServiceAccount
) -> None:
    earlier = drive.add_file(name=TITLE, owner=DELEGATE,
                             app_properties={"incidentBotRequest": "pir-42"})

    doc = await export(exporter(drive, account))

    assert doc == DocRef(document_id=earlier.id, url=earlier.webViewLink)
    assert drive.calls("upload") == []
    assert len(drive.files) == 1


async def test_retry_of_the_same_request_reuses_its_doc(
    drive: FakeGoogleDrive, account: ServiceAccount
) -> None:
    docs = exporter(drive, account)
    first = await export(docs)

    again = await export(docs)
    other = await export(docs, request_id="pir-43")

    assert again == first
    assert other != first
    assert len(drive.calls("upload")) == 2
    assert len(drive.files) == 2


async def test_trashed_doc_or_another_requests_doc_is_not_reused(
    drive: FakeGoogleDrive, account: ServiceAccount
) -> None:
    trashed = drive.add_file(name=TITLE, owner=DELEGATE, trashed=True,
                             app_properties={"incidentBotRequest": "pir-42"})
    other = drive.add_file(name=TITLE, owner=DELEGATE,
                           app_properties={"incidentBotRequest": "pir-4"})

    doc = await export(exporter(drive, account))

    assert doc.document_id not in (trashed.id, other.id)
    assert len(drive.calls("upload")) == 1


async def test_request_id_with_quotes_is_escaped_in_the_query(
    drive: FakeGoogleDrive, account: ServiceAccount
) -> None:
    request_id = "pir-42' or name contains 'x\\"
    docs = exporter(drive, account)
    first = await export(docs, request_id=request_id)

    again = await export(docs, request_id=request_id)

    assert again == first
    assert drive.calls("list")[0].query["q"] == (
        "appProperties has { key='incidentBotRequest' and "
        "value='pir-42\\' or name contains \\'x\\\\' } and trashed=false"
    )
    assert len(drive.calls("upload")) == 1


async def test_upload_whose_answer_was_lost_is_found_by_the_retry(
    drive: FakeGoogleDrive, account: ServiceAccount
) -> None:
    docs = exporter(drive, account, timeout_s=1)
    drive.hang_next(1.3, endpoint="upload")
    with pytest.raises(ExportError) as caught:
        await export(docs)
    assert caught.value.retryable is True
    for _ in range(50):  # Drive finishes the upload after the client has given up
        if drive.files:
            break
        await asyncio.sleep(0.05)
    [made] = drive.files.values()

    doc = await export(docs)

    assert doc.document_id == made.id
    assert len(drive.calls("upload")) == 1


async def test_token_is_a_delegated_jwt_grant_for_the_drive_file_scope(
    drive: FakeGoogleDrive, account: ServiceAccount
) -> None:
    await export(exporter(drive, account))

    [token_call] = drive.calls("token")
    assert token_call.body["grant_type"] == JWT_BEARER
    claims = jwt.decode(token_call.body["assertion"], options={"verify_signature": False})
    assert claims["iss"] == account.client_email
    assert claims["sub"] == DELEGATE
    assert claims["scope"] == DRIVE_FILE_SCOPE
    assert claims["aud"] == ASSERTION_AUDIENCE


@pytest.mark.parametrize("endpoint", ["list", "upload"])
@pytest.mark.parametrize(("status", "reason", "retryable"), [
    (403, None, False),
    (403, "insufficientFilePermissions", False),
    (403, "userRateLimitExceeded", True),
    (403, "rateLimitExceeded", True),
    (400, None, False),
    (404, None, False),
    (429, None, True),
    (500, None, True),
    (503, None, True),
])
async def test_drive_errors_map_to_export_errors(
    drive: FakeGoogleDrive, account: ServiceAccount, endpoint: str, status: int,
    reason: str | None, retryable: bool,
) -> None:
    drive.fail_next(status, endpoint=endpoint, reason=reason)

    with pytest.raises(ExportError) as caught:
        await export(exporter(drive, account))

    assert isinstance(caught.value, BotError)
    assert caught.value.retryable is retryable
    assert f"HTTP {status}" in str(caught.value)
    assert drive.files == {}


async def test_hung_drive_fails_retryably_within_the_timeout(
    drive: FakeGoogleDrive, account: ServiceAccount
) -> None:
    drive.hang_next(5, endpoint="upload")

    started = time.monotonic()
    with pytest.raises(ExportError) as caught:
        await export(exporter(drive, account, timeout_s=1))

    assert time.monotonic() - started < 1.6
    assert caught.value.retryable is True
    assert "1 s" in str(caught.value)


async def test_one_deadline_covers_the_lookup_and_the_upload(
    drive: FakeGoogleDrive, account: ServiceAccount
) -> None:
    drive.hang_next(0.7, endpoint="list")
    drive.hang_next(0.7, endpoint="upload")

    started = time.monotonic()
    with pytest.raises(ExportError) as caught:
        await export(exporter(drive, account, timeout_s=1))

    assert time.monotonic() - started < 1.6
    assert caught.value.retryable is True


async def test_token_endpoint_rejecting_the_key_is_not_retryable(
    drive: FakeGoogleDrive, account: ServiceAccount, tmp_path: Path
) -> None:
    (tmp_path / "other").mkdir()
    drive.public_key = write_service_account(tmp_path / "other", drive.token_uri).public_key

    with pytest.raises(ExportError) as caught:
        await export(exporter(drive, account))

    assert caught.value.retryable is False
    assert "invalid_grant" in str(caught.value)
    assert drive.calls("drive") == []


async def test_unreachable_google_is_retryable(account: ServiceAccount) -> None:
    docs = GoogleDocsExporter(service_account_file=str(account.path), delegated_user=DELEGATE,
                              api_endpoint="http://127.0.0.1:9/", timeout_s=2)

    with pytest.raises(ExportError) as caught:
        await export(docs)

    assert caught.value.retryable is True


async def test_no_key_or_token_in_errors_or_logs(
    drive: FakeGoogleDrive, account: ServiceAccount, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    docs = exporter(drive, account)
    texts = [repr(await export(docs)), repr(await export(docs))]
    for status, endpoint in [(500, "upload"), (429, "list"), (403, "upload"), (400, "list")]:
        drive.fail_next(status, endpoint=endpoint)
        with pytest.raises(ExportError) as caught:
            await export(docs, request_id=f"pir-{status}")
        texts += [str(caught.value), repr(caught.value), repr(caught.value.__cause__)]

    assert drive.grants and drive.calls("token")
    key_lines = account.private_key_pem.splitlines()[1:-1]
    for text in [caplog.text, *texts]:
        assert not any(line in text for line in key_lines)
        for grant in drive.grants:
            assert grant.token not in text
        for call in drive.calls("token"):
            assert call.body["assertion"] not in text
    assert "google doc" in caplog.text


async def test_building_the_exporter_makes_no_request(
    drive: FakeGoogleDrive, account: ServiceAccount
) -> None:
    exporter(drive, account)

    assert drive.requests == []


async def test_unreadable_key_file_is_not_retryable(tmp_path: Path) -> None:
    with pytest.raises(ExportError) as caught:
        GoogleDocsExporter(service_account_file=str(tmp_path / "missing.json"),
                           delegated_user=DELEGATE)

    assert caught.value.retryable is False


async def test_missing_delegated_user_is_not_retryable(account: ServiceAccount) -> None:
    with pytest.raises(ExportError) as caught:
        GoogleDocsExporter(service_account_file=str(account.path), delegated_user=" ")

    assert caught.value.retryable is False


def test_library_sends_uploads_over_https_to_the_endpoints_host() -> None:
    """Why the exporter fixes the upload URL's scheme: google-api-python-client builds it
    from the discovery document's rootUrl and only swaps in the endpoint's host."""
    drive = build("drive", "v3", credentials=Credentials(token="x"), static_discovery=True,
                  cache_discovery=False,
                  client_options={"api_endpoint": "http://127.0.0.1:8080/prefix/"})
    media = MediaIoBaseUpload(BytesIO(b"<p>x</p>"), mimetype="text/html", resumable=False)

    upload = drive.files().create(body={"name": "x"}, media_body=media, fields="id")
    listing = drive.files().list(q="trashed=false")

    assert upload.uri.startswith(f"https://127.0.0.1:8080{UPLOAD_PATH}?")
    assert "uploadType=multipart" in upload.uri
    assert listing.uri.startswith("http://127.0.0.1:8080/prefix/files?")
