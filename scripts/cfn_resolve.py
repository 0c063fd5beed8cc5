#!/usr/bin/env python3
"""Resolve what CloudFormation would give each function of a SAM template: its environment, limits,
role and the role's fully resolved policies.

    python scripts/cfn_resolve.py infra/template.yaml [--param Name=Value]... [--physical LogicalId=name]...

The SAM transform is AWS's own (``samtranslator``, the library behind the
``AWS::Serverless-2016-10-31`` transform, run offline with a fixed account and region and an empty
managed-policy map). The resulting CloudFormation is then evaluated as CloudFormation does:
parameters (defaults, overrides checked against AllowedValues/AllowedPattern/MinValue/MaxValue/
MinLength/MaxLength, a parameter without default and override is refused), pseudo parameters,
Conditions (Fn::Equals/Not/And/Or, Condition), Fn::If with AWS::NoValue, Ref, Fn::GetAtt, Fn::Sub,
Fn::Join, Fn::Select, Fn::Split, Fn::FindInMap, Fn::Base64. Resources whose Condition is false do not
exist. Anything else (Fn::ImportValue, Fn::GetAZs, Fn::Cidr, a Ref/GetAtt of a type or attribute not
modelled below, an unknown name) is refused: exit 2 with a message, never a guess.

Account 123456789012, region us-east-1, stack ``defender``. A resource's physical name is its name
property when the template sets one (LogGroupName, BucketName, QueueName, TableName, RoleName,
FunctionName, Name), else ``defender-<logicalid lowercased>`` (CloudFormation adds a random suffix;
a deterministic name keeps tests reproducible). ``--physical LogicalId=name`` wins over both; for a
Secrets Manager secret it may be the whole ARN (its physical id), e.g. the one a stand-in created.

The lint venv (.venv/lint) does not carry samtranslator; when the running interpreter cannot import
it, the script re-runs itself with .venv/cfn/bin/python (``make cfn-venv`` creates it).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import sys
import uuid
from pathlib import Path

ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK = "defender"
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"
NO_VALUE = object()


class Refused(Exception):
    """Something CloudFormation semantics do not let us resolve without guessing."""


def _reexec_with_cfn_venv() -> None:
    here = Path(__file__).resolve().parent.parent
    python = here / ".venv" / "cfn" / "bin" / "python"
    if not python.is_file():
        sys.stderr.write(
            "cfn_resolve: samtranslator is not importable and .venv/cfn is missing: run `make cfn-venv`\n"
        )
        sys.exit(2)
    if os.environ.get("CFN_RESOLVE_REEXEC"):
        sys.stderr.write("cfn_resolve: .venv/cfn has no samtranslator: run `make cfn-venv`\n")
        sys.exit(2)
    os.environ["CFN_RESOLVE_REEXEC"] = "1"
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


try:
    import yaml
    from cfn_yaml import load as load_cfn_yaml  # beside this script: the short-form tags, duplicate keys refused
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
except ImportError:  # pragma: no cover - exercised when run with .venv/lint/bin/python
    _reexec_with_cfn_venv()


# ------------------------------------------------------------------ parameters


def _parameters(template: dict, overrides: dict[str, str]) -> dict[str, object]:
    declared = template.get("Parameters") or {}
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise Refused(f"--param names no parameter of the template: {', '.join(unknown)}")
    values: dict[str, object] = {}
    for name, spec in declared.items():
        if name in overrides:
            raw = overrides[name]
        elif "Default" in spec:
            raw = spec["Default"]
        else:
            raise Refused(f"parameter {name} has no default: pass --param {name}=...")
        kind = spec.get("Type", "String")
        text = str(raw) if not isinstance(raw, bool) else str(raw).lower()
        if kind == "Number":
            try:
                number = float(text)
            except ValueError:
                raise Refused(f"parameter {name}: {text!r} is not a number") from None
            if "MinValue" in spec and number < float(spec["MinValue"]):
                raise Refused(f"parameter {name}: {text} is below MinValue {spec['MinValue']}")
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                raise Refused(f"parameter {name}: {text} is above MaxValue {spec['MaxValue']}")
        elif kind == "CommaDelimitedList":
            pass
        elif kind != "String":
            raise Refused(f"parameter {name}: type {kind} is not modelled")
        if "AllowedValues" in spec and text not in [str(v) for v in spec["AllowedValues"]]:
            raise Refused(f"parameter {name}: {text!r} is not one of its AllowedValues")
        if "AllowedPattern" in spec and re.fullmatch(spec["AllowedPattern"], text) is None:
            raise Refused(f"parameter {name}: {text!r} does not match its AllowedPattern")
        if "MinLength" in spec and len(text) < int(spec["MinLength"]):
            raise Refused(f"parameter {name}: shorter than MinLength {spec['MinLength']}")
        if "MaxLength" in spec and len(text) > int(spec["MaxLength"]):
            raise Refused(f"parameter {name}: longer than MaxLength {spec['MaxLength']}")
        values[name] = text.split(",") if kind == "CommaDelimitedList" else text
    return values


def _pseudo() -> dict[str, object]:
    stack_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{ACCOUNT}/{REGION}/{STACK}")
    return {
        "AWS::AccountId": ACCOUNT,
        "AWS::Region": REGION,
        "AWS::StackName": STACK,
        "AWS::StackId": f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/{stack_id}",
        "AWS::Partition": PARTITION,
        "AWS::URLSuffix": URL_SUFFIX,
        "AWS::NotificationARNs": [],
    }


# ------------------------------------------------------------------ the evaluator

NAME_PROPERTY = {
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Scheduler::Schedule": "Name",
}


class Stack:
    def __init__(self, cfn: dict, params: dict[str, object], physical: dict[str, str]):
        self.cfn = cfn
        self.params = params
        self.pseudo = _pseudo()
        self.physical_overrides = physical
        self.mappings = cfn.get("Mappings") or {}
        self.condition_defs = cfn.get("Conditions") or {}
        self.conditions: dict[str, bool] = {}
        self._evaluating: set[str] = set()
        all_resources = cfn.get("Resources") or {}
        unknown = sorted(set(physical) - set(all_resources))
        if unknown:
            raise Refused(f"--physical names no resource of the template: {', '.join(unknown)}")
        self.resources = {
            k: v for k, v in all_resources.items() if "Condition" not in v or self.condition(v["Condition"])
        }
        self._names: dict[str, str] = {}

    # conditions
    def condition(self, name: str) -> bool:
        if name in self.conditions:
            return self.conditions[name]
        if name not in self.condition_defs:
            raise Refused(f"unknown condition {name}")
        if name in self._evaluating:
            raise Refused(f"condition {name} refers to itself")
        self._evaluating.add(name)
        value = self._bool(self.condition_defs[name])
        self._evaluating.discard(name)
        self.conditions[name] = value
        return value

    def _bool(self, node) -> bool:
        if isinstance(node, dict) and len(node) == 1:
            (fn, arg), = node.items()
            if fn == "Condition":
                return self.condition(arg)
            if fn == "Fn::Equals":
                a, b = (self.eval(x) for x in self._args(fn, arg, 2))
                return _scalar_text(a) == _scalar_text(b)
            if fn == "Fn::Not":
                (x,) = self._args(fn, arg, 1)
                return not self._bool(x)
            if fn == "Fn::And":
                return all(self._bool(x) for x in self._args(fn, arg, None))
            if fn == "Fn::Or":
                return any(self._bool(x) for x in self._args(fn, arg, None))
        raise Refused(f"not a condition expression: {json.dumps(node)[:120]}")

    @staticmethod
    def _args(fn: str, arg, n: int | None) -> list:
        if not isinstance(arg, list) or (n is not None and len(arg) != n):
            raise Refused(f"{fn} takes a list of {n if n is not None else 'conditions'}")
        return arg

    # names and attributes
    def resource(self, logical: str) -> dict:
        if logical not in self.resources:
            if logical in (self.cfn.get("Resources") or {}):
                raise Refused(f"{logical} is referenced but its Condition is false (it does not exist)")
            raise Refused(f"unknown resource {logical}")
        return self.resources[logical]

    def name(self, logical: str) -> str:
        if logical in self._names:
            return self._names[logical]
        res = self.resource(logical)
        prop = NAME_PROPERTY.get(res.get("Type", ""))
        props = res.get("Properties") or {}
        if logical in self.physical_overrides:
            value = self.physical_overrides[logical]
            if res.get("Type") == "AWS::SecretsManager::Secret" and value.startswith("arn:"):
                # A secret's physical id is its ARN: name + "-" + six characters Secrets Manager picks.
                m = re.fullmatch(r"arn:[a-z-]+:secretsmanager:[a-z0-9-]+:\d{12}:secret:(.+)-[A-Za-z0-9]{6}", value)
                if m is None:
                    raise Refused(f"--physical {logical}: not a Secrets Manager secret ARN: {value}")
                value = m.group(1)
        elif prop and prop in props:
            if logical in self._evaluating:
                raise Refused(f"the name of {logical} refers to itself")
            self._evaluating.add(logical)
            value = self.eval(props[prop])
            self._evaluating.discard(logical)
            if value is NO_VALUE:
                value = f"{STACK}-{logical.lower()}"
        else:
            value = f"{STACK}-{logical.lower()}"
        if not isinstance(value, str):
            raise Refused(f"the name of {logical} is not a string")
        self._names[logical] = value
        return value

    def ref(self, logical: str):
        kind = self.resource(logical).get("Type", "")
        name = self.name(logical)
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.{URL_SUFFIX}/{ACCOUNT}/{name}"
        if kind == "AWS::SecretsManager::Secret":
            return self.getatt(logical, "Id")
        if kind == "AWS::KMS::Key":
            return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kms/{ACCOUNT}/{name}"))
        if kind == "AWS::SNS::Topic":
            return f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:{name}"
        if kind == "AWS::Glue::Database":
            # Ref gives the database name (DatabaseInput.Name).
            return self.eval(((self.resource(logical).get("Properties") or {}).get("DatabaseInput") or {}).get("Name"))
        if kind in ("AWS::SQS::QueuePolicy", "AWS::Glue::Table"):
            # A generated physical id: nothing in AWS is addressed by it.
            return name
        if kind in (
            "AWS::S3::Bucket",
            "AWS::DynamoDB::Table",
            "AWS::Logs::LogGroup",
            "AWS::IAM::Role",
            "AWS::IAM::ManagedPolicy",
            "AWS::Lambda::Function",
            "AWS::KMS::Alias",
            "AWS::Scheduler::Schedule",
        ):
            if kind == "AWS::IAM::ManagedPolicy":
                return self.getatt(logical, "PolicyArn")
            if kind == "AWS::KMS::Alias":
                return self.eval((self.resource(logical).get("Properties") or {}).get("AliasName"))
            return name
        raise Refused(f"Ref of {logical} ({kind}) is not modelled")

    def getatt(self, logical: str, attr: str):
        kind = self.resource(logical).get("Type", "")
        name = self.name(logical)
        table = {
            "AWS::S3::Bucket": {
                "Arn": f"arn:{PARTITION}:s3:::{name}",
                "DomainName": f"{name}.s3.{URL_SUFFIX}",
                "RegionalDomainName": f"{name}.s3.{REGION}.{URL_SUFFIX}",
            },
            "AWS::SQS::Queue": {
                "Arn": f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{name}",
                "QueueName": name,
                "QueueUrl": f"https://sqs.{REGION}.{URL_SUFFIX}/{ACCOUNT}/{name}",
            },
            "AWS::DynamoDB::Table": {"Arn": f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{name}"},
            "AWS::Logs::LogGroup": {"Arn": f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"},
            "AWS::IAM::Role": {"Arn": f"arn:{PARTITION}:iam::{ACCOUNT}:role{self._role_path(logical)}{name}"},
            "AWS::IAM::ManagedPolicy": {"PolicyArn": f"arn:{PARTITION}:iam::{ACCOUNT}:policy/{name}"},
            "AWS::Lambda::Function": {"Arn": f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{name}"},
            "AWS::SNS::Topic": {"TopicArn": f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:{name}", "TopicName": name},
            "AWS::Scheduler::Schedule": {"Arn": f"arn:{PARTITION}:scheduler:{REGION}:{ACCOUNT}:schedule/default/{name}"},
        }
        if kind == "AWS::SecretsManager::Secret":
            # Secrets Manager appends "-" and six random characters; derived here from the name unless
            # --physical gave the whole ARN (e.g. the one a stand-in created).
            given = self.physical_overrides.get(logical, "")
            suffix = hashlib.sha256(name.encode()).hexdigest()[:6]
            arn = given if given.startswith("arn:") else f"arn:{PARTITION}:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-{suffix}"
            table[kind] = {"Id": arn}
        if kind == "AWS::KMS::Key":
            key_id = self.ref(logical)
            table[kind] = {"Arn": f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT}:key/{key_id}", "KeyId": key_id}
        attrs = table.get(kind)
        if attrs is None or attr not in attrs:
            raise Refused(f"Fn::GetAtt {logical}.{attr} ({kind}) is not modelled")
        return attrs[attr]

    def _role_path(self, logical: str) -> str:
        path = self.eval((self.resource(logical).get("Properties") or {}).get("Path", "/"))
        return "/" if path is NO_VALUE else str(path)

    # values
    def eval(self, node):
        if isinstance(node, list):
            out = [self.eval(x) for x in node]
            return [x for x in out if x is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Condition" and not isinstance(arg, str):
                raise Refused("Condition takes a name")
            if key.startswith("Fn::"):
                return self._fn(key, arg)
        out = {}
        for k, v in node.items():
            value = self.eval(v)
            if value is not NO_VALUE:
                out[k] = value
        return out

    def _ref(self, name):
        if not isinstance(name, str):
            raise Refused("Ref takes a name")
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name.startswith("AWS::"):
            raise Refused(f"pseudo parameter {name} is not modelled")
        if name in self.params:
            return self.params[name]
        return self.ref(name)

    def _fn(self, fn: str, arg):
        if fn == "Fn::If":
            cond, yes, no = self._args(fn, arg, 3)
            return self.eval(yes if self.condition(cond) else no)
        if fn == "Fn::GetAtt":
            if isinstance(arg, str):
                arg = arg.split(".", 1)
            logical, attr = (self.eval(x) for x in self._args(fn, arg, 2))
            return self.getatt(logical, attr)
        if fn == "Fn::Sub":
            if isinstance(arg, str):
                text, local = arg, {}
            else:
                text, local = self._args(fn, arg, 2)
                local = {k: self.eval(v) for k, v in local.items()}
            return self._sub(text, local)
        if fn == "Fn::Join":
            sep, items = self._args(fn, arg, 2)
            items = self.eval(items)
            if not isinstance(items, list):
                raise Refused("Fn::Join needs a list")
            return str(sep).join(_scalar_text(x) for x in items)
        if fn == "Fn::Select":
            index, items = self._args(fn, arg, 2)
            index, items = int(self.eval(index)), self.eval(items)
            if not isinstance(items, list) or not 0 <= index < len(items):
                raise Refused(f"Fn::Select index {index} out of range")
            return items[index]
        if fn == "Fn::Split":
            sep, text = self._args(fn, arg, 2)
            return _scalar_text(self.eval(text)).split(sep)
        if fn == "Fn::FindInMap":
            m, k1, k2 = (self.eval(x) for x in self._args(fn, arg, 3))
            try:
                return self.mappings[m][k1][k2]
            except (KeyError, TypeError):
                raise Refused(f"Fn::FindInMap {m}/{k1}/{k2} is not in Mappings") from None
        if fn == "Fn::Base64":
            return base64.b64encode(_scalar_text(self.eval(arg)).encode()).decode()
        if fn in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"):
            return self._bool({fn: arg})
        raise Refused(f"{fn} is not resolvable offline")

    def _sub(self, text: str, local: dict) -> str:
        def one(m: re.Match) -> str:
            inner = m.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            if inner in local:
                return _scalar_text(local[inner])
            if inner in self.pseudo or inner in self.params:
                return _scalar_text(self._ref(inner))
            if "." in inner:
                logical, attr = inner.split(".", 1)
                return _scalar_text(self.getatt(logical, attr))
            return _scalar_text(self._ref(inner))

        return re.sub(r"\$\{([^}]*)\}", one, text)


def _scalar_text(v) -> str:
    if v is NO_VALUE:
        raise Refused("AWS::NoValue used where a value is required")
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (str, int, float)):
        return str(v)
    raise Refused(f"expected a scalar, got {json.dumps(v)[:80]}")


def _int_or_none(v, what: str):
    if v is None or v is NO_VALUE:
        return None
    try:
        f = float(_scalar_text(v))
    except ValueError:
        raise Refused(f"{what} is not a number: {v!r}") from None
    if not f.is_integer():
        raise Refused(f"{what} is not an integer: {v!r}")
    return int(f)


# ------------------------------------------------------------------ the transform and the output


def transform(sam: dict, params: dict[str, object]) -> dict:
    """The AWS::Serverless-2016-10-31 transform, offline (no managed policy is looked up)."""
    if sam.get("Transform") is None:
        return sam
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    os.environ["AWS_REGION"] = REGION
    sam = json.loads(json.dumps(sam))
    # What `sam package` does before the transform runs: a local CodeUri becomes the S3 object it
    # uploaded. The code's location changes nothing this script reports.
    for logical, res in (sam.get("Resources") or {}).items():
        props = res.get("Properties") or {}
        uri = props.get("CodeUri")
        if res.get("Type") == "AWS::Serverless::Function" and isinstance(uri, str) and not uri.startswith("s3://"):
            props["CodeUri"] = f"s3://{STACK}-artifacts/{logical}.zip"
    parameter_values = dict(params)
    parameter_values.update({k: v for k, v in _pseudo().items() if k != "AWS::NotificationARNs"})
    translator = Translator({}, Parser())
    try:
        return translator.translate(
            sam,
            parameter_values=parameter_values,
            passthrough_metadata=True,
            get_managed_policy_map=lambda: {},
        )
    except Exception as e:  # samtranslator raises its own InvalidDocumentException family
        causes = getattr(e, "causes", None) or []
        detail = "; ".join(str(getattr(c, "message", c)) for c in causes) or str(e)
        raise Refused(f"SAM transform failed: {detail}") from None


def resolve(template_path: str, overrides: dict[str, str], physical: dict[str, str]) -> dict:
    with open(template_path, encoding="utf-8") as f:
        sam = load_cfn_yaml(f)
    params = _parameters(sam, overrides)
    cfn = transform(sam, params)
    stack = Stack(cfn, params, physical)
    sam_resources = sam.get("Resources") or {}

    functions = {}
    for logical, res in stack.resources.items():
        if res.get("Type") != "AWS::Lambda::Function":
            continue
        sam_res = sam_resources.get(logical) or {}
        binary = ((sam_res.get("Metadata") or res.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
        if binary is None:
            continue  # not one of ours (none today: SAM adds no function of its own here)
        props = res.get("Properties") or {}
        env = stack.eval((props.get("Environment") or {}).get("Variables") or {})
        if not isinstance(env, dict):
            raise Refused(f"{logical}: Environment.Variables is not a map")
        env = {k: _scalar_text(v) for k, v in env.items()}
        role_node = props.get("Role")
        if not (isinstance(role_node, dict) and "Fn::GetAtt" in role_node):
            raise Refused(f"{logical}: Role is not Fn::GetAtt of a role of this template")
        role_ref = role_node["Fn::GetAtt"]
        role_logical = role_ref.split(".")[0] if isinstance(role_ref, str) else role_ref[0]
        role = stack.resource(role_logical)
        if role.get("Type") != "AWS::IAM::Role":
            raise Refused(f"{logical}: Role names {role_logical}, not an AWS::IAM::Role")
        role_props = stack.eval(role.get("Properties") or {})
        logging = stack.eval(props.get("LoggingConfig") or {})
        functions[logical] = {
            "binary": binary,
            "name": stack.name(logical),
            "environment": env,
            "timeout": _int_or_none(stack.eval(props.get("Timeout", 3)), f"{logical}.Timeout"),
            "memory": _int_or_none(stack.eval(props.get("MemorySize", 128)), f"{logical}.MemorySize"),
            "reserved_concurrency": _int_or_none(
                stack.eval(props.get("ReservedConcurrentExecutions")), f"{logical}.ReservedConcurrentExecutions"
            ),
            "log_format": logging.get("LogFormat") if isinstance(logging, dict) else None,
            "log_group": logging.get("LogGroup") if isinstance(logging, dict) else None,
            "role": role_logical,
            "role_arn": stack.getatt(role_logical, "Arn"),
            "policies": role_props.get("Policies", []),
            "managed_policy_arns": role_props.get("ManagedPolicyArns", []),
        }

    resources = {}
    for logical, res in stack.resources.items():
        kind = res.get("Type", "")
        try:
            ref = stack.ref(logical)
        except Refused:
            ref = None
        arn = None
        for attr in ("Arn", "PolicyArn", "TopicArn", "Id"):
            try:
                arn = stack.getatt(logical, attr)
                break
            except Refused:
                continue
        entry = {"type": kind, "ref": ref, "arn": arn}
        if kind in PROPERTIES_OUT:
            # The resolved properties of the types a stand-in is configured from (e.g. the bucket's
            # NotificationConfiguration, the queue policy, the Glue table); None when they cannot be
            # resolved without guessing.
            try:
                entry["properties"] = _plain(stack.eval(res.get("Properties") or {}))
            except Refused:
                entry["properties"] = None
        resources[logical] = entry

    parameters = {
        name: {
            "value": params[name],
            "default": None if "Default" not in spec else _scalar_text(spec["Default"]),
            "allowed_values": [_scalar_text(v) for v in spec["AllowedValues"]] if "AllowedValues" in spec else None,
        }
        for name, spec in (sam.get("Parameters") or {}).items()
    }
    return {
        "account": ACCOUNT,
        "region": REGION,
        "stack": STACK,
        "parameters": parameters,
        "conditions": {name: stack.condition(name) for name in stack.condition_defs},
        "functions": functions,
        "resources": resources,
    }


PROPERTIES_OUT = ("AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::SQS::QueuePolicy", "AWS::Glue::Database", "AWS::Glue::Table")


def _plain(value):
    """The evaluated value with AWS::NoValue members dropped (as CloudFormation does)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not NO_VALUE}
    if isinstance(value, list):
        return [_plain(v) for v in value if v is not NO_VALUE]
    return value


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    out = {}
    for v in values:
        name, sep, value = v.partition("=")
        if not sep or not name:
            raise Refused(f"{flag} takes Name=Value, got {v!r}")
        out[name] = value
    return out


def main(argv: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("template")
    p.add_argument("--param", action="append", default=[], metavar="Name=Value")
    p.add_argument("--physical", action="append", default=[], metavar="LogicalId=name")
    args = p.parse_args(argv)
    try:
        out = resolve(args.template, _pairs(args.param, "--param"), _pairs(args.physical, "--physical"))
    except Refused as e:
        sys.stderr.write(f"cfn_resolve: refused: {e}\n")
        return 2
    except (OSError, yaml.YAMLError) as e:
        sys.stderr.write(f"cfn_resolve: cannot read {args.template}: {e}\n")
        return 2
    json.dump(out, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
