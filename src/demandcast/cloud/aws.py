"""AWS sessions and clients, and the first errors people meet turned into one clear message.

Credentials, region and endpoints come from the standard AWS chain: the environment
(``AWS_PROFILE``, ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``), the
``~/.aws`` files (SSO included), an instance role or the OIDC role a CI job assumed.
``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL_EMR_SERVERLESS``, ...)
points the clients elsewhere, as botocore itself documents: MinIO, LocalStack or moto.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from demandcast.errors import UserError

SETUP_HINT = "see README, Team setup"
CREDENTIALS_HINT = (
    "set AWS_PROFILE (after `aws sso login` or `aws configure`) or AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY, or run where an instance or OIDC role provides them")


def session(region: str | None = None, profile: str | None = None):
    """A boto3 session; stops with one message when no credentials can be found."""
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        aws = boto3.Session(region_name=region or None, profile_name=profile or None)
    except ProfileNotFound as exc:
        raise UserError(f"AWS profile not found: {exc}; {CREDENTIALS_HINT} ({SETUP_HINT})") from None
    if aws.get_credentials() is None:
        raise UserError(f"no AWS credentials found: {CREDENTIALS_HINT} ({SETUP_HINT})")
    if not aws.region_name:
        raise UserError("no AWS region: set spark.region in conf/spark/ (or AWS_REGION)")
    return aws


def client(aws, service: str):
    """A client with the standard retry mode (throttling and 5xx are retried, 5 attempts)."""
    from botocore.config import Config

    return aws.client(service, config=Config(retries={"max_attempts": 5, "mode": "standard"}))


def check_bucket(s3, bucket: str, setting: str = "spark.bucket") -> None:
    """The bucket exists and these credentials may use it; otherwise say which and what to do."""
    from botocore.exceptions import ClientError

    if not bucket:
        raise UserError(f"{setting} is not set: name the S3 bucket for code, data, results and logs")
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code"))
        if code in ("404", "NoSuchBucket"):
            raise UserError(f"S3 bucket s3://{bucket} does not exist ({setting}): create it "
                            f"(aws s3 mb s3://{bucket}) or set {setting} to yours ({SETUP_HINT})") from None
        if code in ("403", "AccessDenied"):
            raise UserError(f"no access to S3 bucket s3://{bucket} ({setting}) with these credentials: "
                            f"the role needs s3:ListBucket, s3:GetObject and s3:PutObject on it "
                            f"({SETUP_HINT})") from None
        raise


@contextlib.contextmanager
def errors(doing: str) -> Iterator[None]:
    """Turn botocore's failures while ``doing`` something into a UserError saying what failed."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )

    try:
        yield
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise UserError(f"{doing}: {exc}; {CREDENTIALS_HINT} ({SETUP_HINT})") from None
    except NoRegionError:
        raise UserError(f"{doing}: no AWS region: set spark.region in conf/spark/ (or AWS_REGION)") from None
    except EndpointConnectionError as exc:
        raise UserError(f"{doing}: cannot reach AWS: {exc}") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise UserError(f"{doing}: {error.get('Code')}: {error.get('Message') or exc}") from None
