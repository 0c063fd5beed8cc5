"""Lambda's log agent, played for the tests: the lines of a function's output sent to its log group
with the caller's credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN: the
execution role) — logs:CreateLogStream, then logs:PutLogEvents. Run with .venv/moto/bin/python.

    ship_logs.py --endpoint URL --group GROUP --stream STREAM FILE
"""

import argparse
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--stream", required=True)
    ap.add_argument("file")
    a = ap.parse_args()
    logs = boto3.client(
        "logs", endpoint_url=a.endpoint, region_name="us-east-1", config=Config(retries={"max_attempts": 1})
    )
    with open(a.file, encoding="utf-8", errors="replace") as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    now = int(time.time() * 1000)
    try:
        try:
            logs.create_log_stream(logGroupName=a.group, logStreamName=a.stream)
        except ClientError as e:
            if e.response["Error"].get("Code") != "ResourceAlreadyExistsException":
                raise
        if lines:
            events = [{"timestamp": now, "message": l[:200_000]} for l in lines[:10_000]]
            logs.put_log_events(logGroupName=a.group, logStreamName=a.stream, logEvents=events)
    except ClientError as e:
        print(f"{e.response['Error'].get('Code')}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
