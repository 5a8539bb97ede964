"""A real S3 endpoint for the tests: moto's server on loopback, which can go down and come back."""

from __future__ import annotations

import boto3
from moto.server import ThreadedMotoServer

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1"}


class S3Endpoint:
    """A moto S3 server on loopback that can go down and come back on the same port.

    moto keeps its S3 state in module-level backends, so a bucket and its objects survive a
    stop and a restart in this process; it also means buckets outlive a test, hence a fresh
    bucket name per test (the ``bucket`` fixture).
    """

    def __init__(self):
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, self.port = self._server.get_host_and_port()
        self.url, self.up = f"http://{host}:{self.port}", True

    def stop(self) -> None:
        self._server.stop()
        self.up = False

    def start(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self.up = True

    def keys(self, bucket: str) -> set[str]:
        s3 = boto3.client("s3", endpoint_url=self.url)
        return {obj["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                for obj in page.get("Contents", [])}
