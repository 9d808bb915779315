"""An S3-compatible object store on a loopback port: moto's server mode (`moto[server]`), as a
process of its own, so that the test process, web servers and workers all reach it over HTTP,
as they would reach a real store."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

# moto accepts any credentials; these only have to be the same everywhere.
ACCESS_KEY = "flis-test-access-key"
SECRET_KEY = "flis-test-secret-key"
REGION = "eu-north-1"


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def new_bucket(self) -> str:
        """A fresh, empty bucket: each test has its own, so none sees another's objects."""
        name = f"flis-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        return name

    def keys(self, bucket: str) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def storage_env(self, bucket: str) -> dict[str, str]:
        """The settings a portal process needs to keep its files in `bucket`
        (docs/operations/deployment.md)."""
        return {
            "FLISPORTAL_STORAGE_BACKEND": "storages.backends.s3.S3Storage",
            "FLISPORTAL_S3_BUCKET": bucket,
            "FLISPORTAL_S3_ENDPOINT_URL": self.endpoint_url,
            "FLISPORTAL_S3_REGION": REGION,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            # A proxy in the environment must not be asked for a loopback address.
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }


def start_s3_server(port: int, log: Path) -> subprocess.Popen:
    """Starts `python -m moto.server` on 127.0.0.1:`port` (its output to `log`) and returns
    once it answers."""
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/moto-api/"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto's S3 server stopped:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return process
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"moto's S3 server did not answer on port {port}")
