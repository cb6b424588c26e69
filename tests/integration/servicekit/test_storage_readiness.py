"""Storage readiness needs no more than the object permissions each service's IAM role has.

An S3 server of this module's own enforces IAM policies (moto, once its authorisation is switched on) for users
holding exactly the S3 statements of the processor's and video_svc's roles in deploy/terraform/modules/iam, which
grant no s3:ListBucket (HeadBucket). The readiness check passes with them, and fails for credentials that may
not write the service's prefix."""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from ops.dev.localinfra import LocalS3
from processor_svc.app import READINESS_KEY as PROCESSOR_KEY
from servicekit import objects
from servicekit.settings import StorageSettings
from servicekit.storage import open_storage
from video_svc.app import READINESS_KEY as VIDEO_KEY

BUCKET = "framepipe-readiness"
ARN = f"arn:aws:s3:::{BUCKET}"

# The S3 statements of the IRSA roles (deploy/terraform/modules/iam/main.tf, local.irsa).
ROLE_STATEMENTS: dict[str, list[dict[str, Any]]] = {
    "processor-svc": [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"{ARN}/sources/*"]},
        {
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
            "Resource": [f"{ARN}/results/*"],
        },
        {"Effect": "Allow", "Action": ["s3:DeleteObject"], "Resource": [f"{ARN}/results/segments/*"]},
    ],
    "video-svc": [
        {
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            "Resource": [f"{ARN}/sources/*"],
        },
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:DeleteObject"], "Resource": [f"{ARN}/results/*"]},
    ],
    "reads-only": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"{ARN}/*"]}],
}


@pytest.fixture(scope="module")
def enforcing_s3() -> Iterator[tuple[LocalS3, dict[str, tuple[str, str]]]]:
    """The server and, per role, an access key of a user holding that role's statements."""
    with LocalS3() as server:
        admin: dict[str, Any] = {
            "endpoint_url": server.endpoint_url,
            "region_name": "us-east-1",
            "aws_access_key_id": "admin",
            "aws_secret_access_key": "admin",
        }
        boto3.client("s3", **admin).create_bucket(Bucket=BUCKET)
        iam = boto3.client("iam", **admin)
        keys = {}
        for role, statements in ROLE_STATEMENTS.items():
            iam.create_user(UserName=role)
            document = json.dumps({"Version": "2012-10-17", "Statement": statements})
            iam.put_user_policy(UserName=role, PolicyName="media-bucket", PolicyDocument=document)
            key = iam.create_access_key(UserName=role)["AccessKey"]
            keys[role] = (key["AccessKeyId"], key["SecretAccessKey"])
        # From now on every request is authorised against the users' policies.
        switch = urllib.request.Request(  # noqa: S310 - the local server of this test
            f"{server.endpoint_url}/moto-api/reset-auth",
            data=b"0",
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        urllib.request.urlopen(switch, timeout=10).close()  # noqa: S310
        yield server, keys


def settings_for(server: LocalS3, key: tuple[str, str]) -> StorageSettings:
    return StorageSettings(
        _env_file=None,  # type: ignore[call-arg]
        s3_endpoint_url=server.endpoint_url,
        s3_bucket=BUCKET,
        aws_access_key_id=key[0],  # type: ignore[arg-type]
        aws_secret_access_key=key[1],  # type: ignore[arg-type]
    )


async def ready(server: LocalS3, key: tuple[str, str], readiness_key: str) -> str:
    async with open_storage(settings_for(server, key), readiness_key=readiness_key) as storage:
        try:
            await storage.check()
        except Exception as exc:
            return f"failed: {type(exc).__name__}: {exc}"
        return "ok"


async def test_the_roles_cannot_head_the_bucket(enforcing_s3: tuple[LocalS3, dict[str, tuple[str, str]]]) -> None:
    server, keys = enforcing_s3
    client = boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=keys["processor-svc"][0],
        aws_secret_access_key=keys["processor-svc"][1],
    )
    with pytest.raises(client.exceptions.ClientError, match="403"):
        client.head_bucket(Bucket=BUCKET)


@pytest.mark.parametrize(("role", "readiness_key"), [("processor-svc", PROCESSOR_KEY), ("video-svc", VIDEO_KEY)])
async def test_storage_is_ready_with_only_the_permissions_of_the_services_role(
    enforcing_s3: tuple[LocalS3, dict[str, tuple[str, str]]], role: str, readiness_key: str
) -> None:
    server, keys = enforcing_s3
    assert await ready(server, keys[role], readiness_key) == "ok"  # writes the object the first time
    assert await ready(server, keys[role], readiness_key) == "ok"  # reads it afterwards


async def test_storage_is_not_ready_for_credentials_that_may_not_write_the_services_prefix(
    enforcing_s3: tuple[LocalS3, dict[str, tuple[str, str]]],
) -> None:
    server, keys = enforcing_s3
    assert (await ready(server, keys["reads-only"], "results/.readyz-other")).startswith("failed")
    assert (await ready(server, ("unknown", "credentials"), PROCESSOR_KEY)).startswith("failed")


async def test_the_processor_claims_a_gathering_once_and_removes_segments_with_its_roles_permissions(
    enforcing_s3: tuple[LocalS3, dict[str, tuple[str, str]]],
) -> None:
    """A long video's segments (processor_svc/fanout.py): of the writers racing for the assembly claim, exactly
    one creates it (a conditional write), and the role may remove the segments once gathered."""
    server, keys = enforcing_s3
    video_id = uuid.uuid4()
    claim = objects.assembly_claim_key(video_id)
    async with open_storage(settings_for(server, keys["processor-svc"])) as storage:
        created = await asyncio.gather(*(storage.create(claim, f"{n}".encode(), "text/plain") for n in range(5)))
        winner = created.index(True)
        await storage.put_bytes(objects.segment_key(video_id, 0), b"frames", "application/zip")
        stored = await storage.read(claim)
        await storage.delete(*objects.segment_keys(video_id))
        remaining = [await storage.exists(key) for key in (claim, objects.segment_key(video_id, 0))]
    assert created.count(True) == 1
    assert stored == f"{winner}".encode()
    assert remaining == [False, False]


async def test_a_missing_plan_reads_as_none_with_the_processors_role(
    enforcing_s3: tuple[LocalS3, dict[str, tuple[str, str]]],
) -> None:
    """Without s3:ListBucket, S3 answers a missing key with 403, not 404: it still reads as no object."""
    server, keys = enforcing_s3
    plan = objects.segment_plan_key(uuid.uuid4())
    async with open_storage(settings_for(server, keys["processor-svc"])) as storage:
        before = await storage.read_if_exists(plan)
        await storage.put_bytes(plan, b"{}", "application/json")
        after = await storage.read_if_exists(plan)
    assert before is None
    assert after == b"{}"
