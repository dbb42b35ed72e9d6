"""Assets on S3-compatible storage: a real moto server on 127.0.0.1 behind django-storages."""

from __future__ import annotations

import uuid

import boto3
import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from outputs.services import asset_verify_stored


@pytest.fixture(scope="module")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(settings, moto_endpoint, private_storage):
    bucket = f"command-assets-{uuid.uuid4().hex[:8]}"
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
    client = boto3.client("s3", endpoint_url=moto_endpoint, **creds)
    client.create_bucket(Bucket=bucket)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": moto_endpoint,
                "region_name": "us-east-1",
                "access_key": "testing",
                "secret_key": "testing",
                "default_acl": None,
                "querystring_auth": True,
                "file_overwrite": False,
            },
        },
    }
    return client, bucket


def test_delivery_writes_to_the_bucket_and_downloads_through_the_view(
    s3, deliver, generated, owner_client, private_storage
):
    client, bucket = s3
    asset = deliver(generated["spreadsheet"])
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
    assert {asset.file.name, *(asset.storage_name(f["path"]) for f in asset.files)} <= keys
    assert not private_storage.exists()  # nothing went to local disk
    stored = client.get_object(Bucket=bucket, Key=asset.file.name)["Body"].read()
    assert stored == generated["spreadsheet"].primary_path.read_bytes()

    response = owner_client.get(reverse("outputs:download", args=[asset.id]))
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment;")
    assert b"".join(response.streaming_content) == stored
    assert response["X-Content-Type-Options"] == "nosniff"
    assert asset_verify_stored(asset=asset).passed


def test_website_preview_and_tamper_check_on_s3(s3, deliver, generated, owner_client, other_client):
    client, bucket = s3
    asset = deliver(generated["website"])
    page = owner_client.get(reverse("outputs:site", args=[asset.id, "index.html"]))
    assert page.status_code == 200 and b"Northwind Cloud" in b"".join(page.streaming_content)
    assert other_client.get(reverse("outputs:site", args=[asset.id, "index.html"])).status_code == 404
    thumb = owner_client.get(reverse("outputs:preview", args=[asset.id]))  # the site's sharing card
    assert thumb["Content-Type"] == "image/png" and b"".join(thumb.streaming_content).startswith(b"\x89PNG")
    client.put_object(Bucket=bucket, Key=asset.storage_name("styles.css"), Body=b"body{}")
    report = asset_verify_stored(asset=asset)
    assert [c.name for c in report.checks if not c.passed] == ["styles.css intact"]
    assert default_storage.exists(asset.file.name)
