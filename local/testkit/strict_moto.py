"""moto's server as a strict AWS stand-in (run by lambda_emu::moto with .venv/moto/bin/python).

    strict_moto.py --port PORT                 moto, no IAM (every request allowed)
    strict_moto.py --port PORT --plan FILE     the plan's resources and roles, then IAM enforced

With a plan (JSON: region, buckets, queues, tables, log_groups, roles: [{name, policies: [{PolicyName,
PolicyDocument}]}]) the server creates everything while requests are still unauthenticated (moto's
INITIAL_NO_AUTH_ACTION_COUNT, switched here once the setup is done instead of guessed in advance), an
admin user for the test's own inspection, each role with exactly the plan's inline policies, and one
assumed-role session per role; then every request is checked against the caller's policies. It prints
one JSON line: {"url", "admin": {credentials}, "roles": {name: {credentials}}, "queues": {name: url}}.

Where moto 5.2 is more lenient than AWS, or wrong, this file corrects it (docs/security.md):
- identity-policy conditions: moto ignores every operator but StringEquals and treats a missing key as
  met; here a condition is evaluated (String*, Numeric*, Bool, Arn*, ForAllValues/ForAnyValue, IfExists)
  and a missing key or an unknown operator makes the statement not apply (least favourable);
  S3 ListBucket requests carry `s3:prefix`;
- DynamoDB, CloudWatch Logs and EventBridge PutEvents: moto checks their actions against resource "*",
  so a statement scoped to a table, log group or event bus ARN never matches; here the table / log
  group / bus ARN (each entry's EventBusName) is the resource;
- S3 GetObject of a missing key: AWS answers 403 AccessDenied unless the caller has s3:ListBucket on
  the bucket (S3 API reference, GetObject, "Permissions"); moto answers 404. Here, with IAM enforced,
  a missing key is a 403 unless the caller's policies grant s3:ListBucket on the bucket with no
  condition that needs a request key (a prefix-scoped grant does not count: nothing documents that it
  does, so the stand-in assumes the least favourable reading).
"""

import argparse
import json
import re
import sys
import threading

from moto import settings
from moto.dynamodb.responses import DynamoHandler
from moto.events.responses import EventsHandler
from moto.iam.access_control import IAMPolicy, IAMRequestBase, create_access_key
from moto.logs.responses import LogsResponse
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.s3.exceptions import MissingKey, S3AccessDeniedError
from moto.s3.responses import S3Response

ACCOUNT = "123456789012"


def _wild(pattern, value, ignore_case=False):
    """IAM wildcards: * any run, ? one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _as_list(v):
    return v if isinstance(v, list) else [v]


def _num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


OPS = {
    "StringEquals": lambda e, a: e == a,
    "StringNotEquals": lambda e, a: e != a,
    "StringEqualsIgnoreCase": lambda e, a: e.lower() == a.lower(),
    "StringLike": lambda e, a: _wild(e, a),
    "StringNotLike": lambda e, a: not _wild(e, a),
    "ArnEquals": lambda e, a: e == a,
    "ArnLike": lambda e, a: _wild(e, a),
    "Bool": lambda e, a: str(e).lower() == str(a).lower(),
    "NumericEquals": lambda e, a: _num(a) is not None and _num(a) == _num(e),
    "NumericLessThan": lambda e, a: _num(a) is not None and _num(a) < _num(e),
    "NumericLessThanEquals": lambda e, a: _num(a) is not None and _num(a) <= _num(e),
    "NumericGreaterThan": lambda e, a: _num(a) is not None and _num(a) > _num(e),
    "NumericGreaterThanEquals": lambda e, a: _num(a) is not None and _num(a) >= _num(e),
}
NEGATED = {"StringNotEquals", "StringNotLike"}


def _condition_met(op, key, expected, context):
    qualifier, _, op = op.rpartition(":")
    if_exists = op.endswith("IfExists")
    op = op[: -len("IfExists")] if if_exists else op
    test = OPS.get(op)
    if test is None:
        return False  # an operator this stand-in cannot evaluate never grants
    if key not in context:
        # AWS: ForAllValues over no values is true; IfExists is true when the key is absent.
        return qualifier == "ForAllValues" or if_exists
    actual = _as_list(context[key])
    expected = _as_list(expected)
    if qualifier == "ForAllValues":
        return all(any(test(e, a) for e in expected) for a in actual)
    if op in NEGATED:
        return all(all(test(e, a) for e in expected) for a in actual)
    return any(any(test(e, a) for e in expected) for a in actual)


def _statement(st, action, resource, context):
    """'Allow', 'Deny' or None (does not apply)."""
    if "NotAction" in st:
        if any(_wild(p, action, True) for p in _as_list(st["NotAction"])):
            return None
    elif not any(_wild(p, action, True) for p in _as_list(st.get("Action", []))):
        return None
    if "NotResource" in st:
        if any(_wild(p, resource) for p in _as_list(st["NotResource"])):
            return None
    elif not any(_wild(p, resource) for p in _as_list(st.get("Resource", []))):
        return None
    for op, keys in (st.get("Condition") or {}).items():
        for key, expected in keys.items():
            if not _condition_met(op, key, expected, context):
                return None
    return st.get("Effect")


def evaluate(documents, action, resource, context):
    """True when some statement allows and none denies (identity policies only)."""
    allowed = False
    for doc in documents:
        for st in _as_list(doc.get("Statement", [])):
            effect = _statement(st, action, resource, context)
            if effect == "Deny":
                return False
            allowed = allowed or effect == "Allow"
    return allowed


def _documents(access_key):
    return [IAMPolicy(p)._policy_json for p in access_key.collect_policies()]


def _context(request):
    context = {}
    if request._action == "s3:ListBucket":
        query = request._path.partition("?")[2]
        for part in query.split("&"):
            name, _, value = part.partition("=")
            if name == "prefix":
                from urllib.parse import unquote_plus

                context["s3:prefix"] = unquote_plus(value)
    return context


def _check_action_permitted(self, resource):
    if self._action == "sts:GetCallerIdentity":
        return
    if not evaluate(_documents(self._access_key), self._action, resource, _context(self)):
        self._raise_access_denied()


IAMRequestBase.check_action_permitted = _check_action_permitted


def _dynamodb_resource(self):
    name = (getattr(self, "body", None) or {}).get("TableName") or self._get_param("TableName")
    return f"arn:aws:dynamodb:{self.region}:{ACCOUNT}:table/{name}" if name else "*"


def _logs_resource(self):
    group = self._get_param("logGroupName")
    if not group:
        return "*"
    stream = self._get_param("logStreamName")
    arn = f"arn:aws:logs:{self.region}:{ACCOUNT}:log-group:{group}"
    return f"{arn}:log-stream:{stream}" if stream else arn


def _events_resource(self):
    """PutEvents is authorised per entry against the entry's bus (EventBusName, a name or an ARN; none:
    the default bus); moto checks it against "*", so a statement scoped to a bus would never match.
    Entries for several buses give "*", which no bus-scoped statement matches (least favourable)."""
    try:
        body = json.loads(self.body or "{}")
    except (TypeError, ValueError):
        return "*"
    entries = body.get("Entries") if isinstance(body, dict) else None
    if not isinstance(entries, list) or not entries:
        return "*"
    buses = {(e.get("EventBusName") or "default") for e in entries if isinstance(e, dict)}
    if len(buses) != 1:
        return "*"
    bus = buses.pop()
    return bus if bus.startswith("arn:") else f"arn:aws:events:{self.region}:{ACCOUNT}:event-bus/{bus}"


DynamoHandler._determine_resource = _dynamodb_resource
EventsHandler._determine_resource = _events_resource
LogsResponse._determine_resource = _logs_resource

_get_key = S3Response._get_key


def _strict_get_key(self, *args, **kwargs):
    try:
        return _get_key(self, *args, **kwargs)
    except MissingKey:
        if ENFORCED.is_set() and "Credential=" in self.headers.get("Authorization", ""):
            key_id = self.headers["Authorization"].partition("Credential=")[2].partition("/")[0]
            caller = create_access_key(self.current_account, "aws", key_id, self.headers)
            bucket = f"arn:aws:s3:::{self.bucket_name}"
            if not evaluate(_documents(caller), "s3:ListBucket", bucket, {}):
                raise S3AccessDeniedError()
        raise


S3Response._get_key = _strict_get_key
ENFORCED = threading.Event()


def _setup(url, plan):
    import boto3
    from botocore.config import Config

    region = plan.get("region", "us-east-1")
    cfg = Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"})

    def client(service, creds=None):
        creds = creds or {"aws_access_key_id": "setup", "aws_secret_access_key": "setup"}
        return boto3.client(service, endpoint_url=url, region_name=region, config=cfg, **creds)

    iam, out = client("iam"), {"url": url, "roles": {}, "queues": {}}
    iam.create_user(UserName="stand-in-admin")
    admin = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy(UserName="stand-in-admin", PolicyName="admin", PolicyDocument=json.dumps(admin))
    key = iam.create_access_key(UserName="stand-in-admin")["AccessKey"]
    out["admin"] = {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}
    s3 = client("s3")
    for bucket in plan.get("buckets", []):
        s3.create_bucket(Bucket=bucket)
    sqs = client("sqs")
    for q in plan.get("queues", []):
        out["queues"][q["name"]] = sqs.create_queue(QueueName=q["name"], Attributes=q.get("attributes", {}))[
            "QueueUrl"
        ]
    ddb = client("dynamodb")
    for table in plan.get("tables", []):
        ddb.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        )
    logs = client("logs")
    for group in plan.get("log_groups", []):
        logs.create_log_group(logGroupName=group)
    sts = client("sts")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    for role in plan.get("roles", []):
        arn = iam.create_role(RoleName=role["name"], AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        for p in role.get("policies", []):
            iam.put_role_policy(
                RoleName=role["name"], PolicyName=p["PolicyName"], PolicyDocument=json.dumps(p["PolicyDocument"])
            )
        c = sts.assume_role(RoleArn=arn, RoleSessionName=f"lambda-{role['name']}"[:64])["Credentials"]
        out["roles"][role["name"]] = {
            "access_key_id": c["AccessKeyId"],
            "secret_access_key": c["SecretAccessKey"],
            "session_token": c["SessionToken"],
        }
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--plan")
    args = ap.parse_args()
    settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{args.port}"
    out = {"url": url}
    if args.plan:
        with open(args.plan, encoding="utf-8") as f:
            out = _setup(url, json.load(f))
        # From here on every request is authenticated and authorised.
        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
        ENFORCED.set()
    print(json.dumps(out), flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
