"""The Python peer of webhook-enrich, written the way a SOC engineer writes it by hand in an afternoon.

A Lambda handler behind API Gateway (HTTP API, payload v2): it verifies the Standard Webhooks signature
with a secret read from Azure Key Vault, takes an app-only token from Entra ID with MSAL, and enriches
each machine id with three Defender for Endpoint lookups (the machine, its logged-on users, its alerts),
answering the same document shape as webhook-enrich for machine ids.

It is a benchmark baseline, not a product: it handles the `machine_ids` indicators the benchmark sends.
It is written fairly, with the usual good habits: clients and the requests session are created once per
container at import time, the Key Vault secret is read once and kept in a global, MSAL's in-memory
token cache serves warm invocations, and webhook ids are de-duplicated in memory.

Settings (the same names webhook-enrich reads): AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,
AZURE_AUTHORITY_HOST, KEY_VAULT_URL, MDE_API_URL, WEBHOOK_SECRET_NAMES (first name used).

Local-only concessions, each marked LOCAL below, all for the simulated tenant on 127.0.0.1:
- the simulator's CA is trusted through REQUESTS_CA_BUNDLE / SSL_CERT_FILE (set by the bench);
- MSAL and azure-identity skip instance discovery (it would call login.microsoftonline.com; for the real
  authority host MSAL knows the host and makes no such call either);
- the vault is addressed as https://127.0.0.1:<port>, so Key Vault's challenge-resource check is off
  (`verify_challenge_resource=False`) — the Rust function does the same in local mode only;
- the simulator knows Key Vault API versions up to the one the Rust SDK speaks (2025-07-01) and refuses
  newer ones, so the bench pins the Python SDK to it with KEY_VAULT_API_VERSION (unset: the SDK default).
"""

import base64
import hashlib
import hmac
import json
import os
import time

import boto3
import msal
import requests
from azure.identity import ClientSecretCredential
from azure.keyvault.secrets import SecretClient

TENANT_ID = os.environ["AZURE_TENANT_ID"]
CLIENT_ID = os.environ["AZURE_CLIENT_ID"]
CLIENT_SECRET = os.environ["AZURE_CLIENT_SECRET"]
AUTHORITY_HOST = os.environ.get("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com").rstrip("/")
VAULT_URL = os.environ["KEY_VAULT_URL"]
MDE_API = os.environ.get("MDE_API_URL", "https://api.securitycenter.microsoft.com").rstrip("/")
SECRET_NAME = os.environ.get("WEBHOOK_SECRET_NAMES", "webhook-secret").split(",")[0].strip()
MDE_SCOPE = "https://api.securitycenter.microsoft.com/.default"
WINDOW_S = 300
TIMEOUT_S = 10

# Created once per container, at import, as every Lambda guide recommends.
session = requests.Session()
app = msal.ConfidentialClientApplication(
    CLIENT_ID,
    client_credential=CLIENT_SECRET,
    authority=f"{AUTHORITY_HOST}/{TENANT_ID}",
    http_client=session,
    instance_discovery=False,  # LOCAL: see the module docstring
)
credential = ClientSecretCredential(
    TENANT_ID,
    CLIENT_ID,
    CLIENT_SECRET,
    authority=AUTHORITY_HOST,
    disable_instance_discovery=True,  # LOCAL
)
vault = SecretClient(
    VAULT_URL,
    credential,
    verify_challenge_resource=False,  # LOCAL
    api_version=os.environ.get("KEY_VAULT_API_VERSION") or None,  # LOCAL: see the module docstring
)
# The table a hand-written handler keeps processed webhook ids in; created at import like the others.
# The benchmark never calls it (no AWS here): webhook ids are de-duplicated in memory, as the Rust one does.
dynamodb = boto3.client("dynamodb")

_webhook_secret = None
_seen = {}


def _secret_key():
    global _webhook_secret
    if _webhook_secret is None:
        _webhook_secret = vault.get_secret(SECRET_NAME).value
    value = _webhook_secret
    if value.startswith("whsec_"):
        value = value[len("whsec_"):]
    return base64.b64decode(value)


def _verify(headers, body):
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    sigs = headers.get("webhook-signature")
    if not (msg_id and ts and sigs):
        return None
    try:
        ts_i = int(ts)
    except ValueError:
        return None
    if abs(time.time() - ts_i) > WINDOW_S:
        return None
    signed = f"{msg_id}.{ts}.".encode() + body
    expected = base64.b64encode(hmac.new(_secret_key(), signed, hashlib.sha256).digest()).decode()
    for sig in sigs.split():
        version, _, value = sig.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return msg_id
    return None


def _token():
    result = app.acquire_token_for_client(scopes=[MDE_SCOPE])
    if "access_token" not in result:
        raise RuntimeError(f"token request failed: {result.get('error')}")
    return result["access_token"]


def _get(path, token):
    r = session.get(f"{MDE_API}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT_S)
    if r.status_code == 404:
        return None
    r.raise_for_status()
    return r.json()


def _machine(m):
    return {
        "id": m.get("id"),
        "computer_dns_name": m.get("computerDnsName"),
        "os_platform": m.get("osPlatform"),
        "health_status": m.get("healthStatus"),
        "risk_score": m.get("riskScore"),
        "exposure_level": m.get("exposureLevel"),
        "last_seen": m.get("lastSeen"),
        "last_ip_address": m.get("lastIpAddress"),
        "logged_on_users": [],
    }


def _alert(a):
    return {
        "id": a.get("id"),
        "title": a.get("title"),
        "severity": a.get("severity"),
        "status": a.get("status"),
        "machine_id": a.get("machineId"),
        "incident_id": a.get("incidentId"),
        "created": a.get("alertCreationTime"),
    }


def _enrich_machine(machine_id, token):
    item = {"kind": "machine_id", "input": machine_id, "value": machine_id, "source": "request"}
    try:
        m = _get(f"/api/machines/{requests.utils.quote(machine_id, safe='')}", token)
        if m is None:
            item.update(status="not_found", reason="no such machine")
            return item
        facts = _machine(m)
        users = _get(f"/api/machines/{facts['id']}/logonusers", token) or {"value": []}
        facts["logged_on_users"] = [u["accountName"] for u in users.get("value", []) if u.get("accountName")]
        alerts = _get(f"/api/machines/{facts['id']}/alerts", token) or {"value": []}
        item.update(status="found", machines=[facts], alerts=[_alert(a) for a in alerts.get("value", [])])
    except requests.RequestException as e:
        item.update(status="error", reason=f"Defender lookup failed: {type(e).__name__}")
    return item


def _reply(status, doc):
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(doc)}


def handler(event, context):
    body = event.get("body") or ""
    body = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    msg_id = _verify(headers, body)
    if msg_id is None:
        return _reply(401, {"error": {"code": "Unauthorized", "message": "missing, invalid or stale signature"}})
    now = time.time()
    for k in [k for k, at in _seen.items() if now - at > 2 * WINDOW_S]:
        del _seen[k]
    if msg_id in _seen:
        return _reply(409, {"error": {"code": "AlreadyProcessed", "message": "this webhook-id was already processed"}})
    _seen[msg_id] = now
    try:
        request = json.loads(body)
    except ValueError:
        return _reply(400, {"error": {"code": "InvalidRequest", "message": "the body is not JSON"}})
    machine_ids = (request.get("indicators") or {}).get("machine_ids") or []
    token = _token()
    results = [_enrich_machine(m, token) for m in machine_ids]
    counts = {s: sum(1 for r in results if r["status"] == s) for s in ("found", "not_found", "invalid", "error")}
    doc = {"tenant": request.get("tenant") or "default", "results": results, "summary": {"items": counts}}
    return _reply(200, doc)
