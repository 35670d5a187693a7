"""`make integ DEPLOY=1`'s first step: fail in one line, naming what is missing, before anything is synthesized."""

from __future__ import annotations

import sys


def main() -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    session = boto3.Session()
    if session.get_credentials() is None:
        print(
            "error: no AWS credentials (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "or run in a role); make integ DEPLOY=1 deploys a real stack",
            file=sys.stderr,
        )
        return 2
    try:
        identity = session.client("sts").get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        print(f"error: AWS credentials were found but do not work: {exc}", file=sys.stderr)
        return 2
    print(f"deploying as {identity['Arn']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
