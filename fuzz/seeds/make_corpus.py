#!/usr/bin/env python3
"""Writes the committed seed corpora (fuzz/corpus/<target>/) from the contract examples, the
signature vectors and the shapes the functions' tests use. Deterministic; rerun after a contract
change: python3 fuzz/seeds/make_corpus.py"""
import base64, hashlib, hmac, json, os, pathlib, urllib.parse

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "fuzz" / "corpus"
NOW = 1_795_757_400
SLACK_SECRET = b"8f742231b10e8888abcd99yyyzzz85a5"
M1 = "bf44e1ec1d7163de5cf81d93982ed19d185f80d2"
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def write(target, items):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    for old in d.iterdir():
        old.unlink()
    for i, data in enumerate(items):
        if isinstance(data, str):
            data = data.encode()
        name = f"{i:03d}-{hashlib.sha1(data).hexdigest()[:12]}"
        (d / name).write_bytes(data)


def webhook():
    bodies = [
        {"indicators": {"machine_ids": [M1, "nope"], "ips": ["10.1.2.3", "999.1.1.1"], "domains": ["evil.example", "x' or 1 eq 1"]}},
        {"indicators": {"urls": ["https://evil.example/a", "ftp://x"], "sha1": ["87662bc3d60e4200ceaf7aae249d1c343f4b83c9"], "sha256": [SHA256], "md5": ["d41d8cd98f00b204e9800998ecf8427e", 5], "users": ["alice", "a\nb"], "hostnames": ["WS-FIN-014.contoso.com"]}},
        {"tenant": "default", "alert_id": "da637308392288907382_-880718168"},
        {"incident_id": 48244},
        {"incident_id": "-4"},
        {"tenant": "fabrikam", "indicators": {"ips": ["::1"]}},
        {"alert": {"title": "Beacon", "description": f"downloaded https://cdn.evil.example/a.ps1 from 45.137.21.9 dropped {SHA256}.",
                   "device": {"id": M1, "hostName": "ws-fin-014.contoso.com"}, "entities": [{"ip": "10.1.2.3"}, {"domain": "evil.example"}, {"userName": "alice"}]}},
        {},
    ]
    items = []
    for b in bodies:
        items.append(b"\x00content-type: application/json\n\n" + json.dumps(b).encode())
    items.append(b"\x00webhook-id: msg_2\n\n{\"indicators\": [")
    items.append(b"\x02\n\n{}")
    v = json.loads((ROOT / "contract/vectors/signatures.json").read_text())["standard_webhooks_v1"]
    raw = f"webhook-id: {v['webhook_id']}\nwebhook-timestamp: {v['webhook_timestamp']}\nwebhook-signature: {v['header_webhook_signature']}\n\n{v['body']}"
    items.append(b"\x01" + raw.encode())
    items.append(b"\x01x-hub-signature-256: sha256=00\n\n{}")
    return items


def slash(text, user="U0ANALYST"):
    return urllib.parse.urlencode({"token": "t", "team_id": "T0001", "channel_id": "C1", "user_id": user, "user_name": "analyst",
                                   "command": "/defender", "text": text, "response_url": "https://hooks.slack.com/x", "trigger_id": "1.2.3"})


def seal(c):
    body = base64.urlsafe_b64encode(json.dumps(c, separators=(",", ":")).encode()).rstrip(b"=")
    key = hmac.new(SLACK_SECRET, b"defender-chatops confirm v1", hashlib.sha256).digest()
    mac = base64.urlsafe_b64encode(hmac.new(key, body, hashlib.sha256).digest()).rstrip(b"=")
    return (body + b"." + mac).decode()


def button(action_id, value):
    payload = {"type": "block_actions", "user": {"id": "U0ANALYST", "username": "analyst"}, "team": {"id": "T0001"},
               "channel": {"id": "C1"}, "response_url": "https://hooks.slack.com/x",
               "actions": [{"action_id": action_id, "block_id": "b", "type": "button", "value": value}]}
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


TEXTS = ["", "help", f"machine {M1}", "machine 10.1.2.3", "machine WS-1.contoso.com", "machine 1.2.3",
         "alert da637_-8807", "incident 42", "incident 42 assign Alice@contoso.com", "incident 42 resolve",
         "incident 42 classify fp", "isolate ws-1 suspected C2 beacon", "scan 10.1.2.3 routine",
         "hunt processes-on-host ws-fin-014.contoso.com 48", "hunt connections-to-ip 45.137.21.9",
         f"hunt file-sha256 {SHA256} 168", "action 4a6f2e1c-8d3b-4c7a-9e5f-2b1d0c9a8e7f",
         "isolate ws-1 x' or 1 eq 1", "hunt processes-on-host a\"|take", "collect ws-1 \x01ab"]


def slack():
    token = seal({"v": 1, "tenant": "default", "user_id": "U0ANALYST", "user_name": "analyst", "action": "isolate",
                  "machine_id": M1, "machine_name": "ws-fin-011.contoso.com", "reason": "suspected C2 beacon",
                  "request_id": "req-1", "exp": NOW + 300})
    items = [slash(t) for t in TEXTS]
    items += [button("confirm", token), button("cancel", token), button("confirm", "abc.def"), button("other", ""),
              urllib.parse.urlencode({"payload": json.dumps({"type": "view_submission", "user": {"id": "U1"}})}),
              "payload=%7Bnot+json", "user_id=U1"]
    return items


def teams():
    items = []
    for t in TEXTS:
        items.append(json.dumps({"type": "message", "text": f"<at>Defender</at> {t}", "from": {"id": "29:1", "name": "Alice", "aadObjectId": "6b3b5d2a-1111-4111-8111-111111111111"},
                                 "conversation": {"id": "19:abc"}, "channelData": {"tenant": {"id": "72f988bf-86f1-41af-91ab-2d7cd011db47"}}}))
    items += ['{"text":"<at>x</at","from":{}}', '{"text":"&lt;at&gt;&amp;nbsp;","from":{"id":"1"}}', "[]"]
    return items


def indicators():
    vals = [M1, M1.upper(), "da637308392288907382_-880718168", "4a6f2e1c-8d3b-4c7a-9e5f-2b1d0c9a8e7f", "Example.COM.",
            "ws-fin-014.contoso.com", "CONTOSO\\alice", "alice@contoso.com", "7587", "0", SHA256,
            "87662bc3d60e4200ceaf7aae249d1c343f4b83c9", "d41d8cd98f00b204e9800998ecf8427e", "https://evil.example/x?y=1",
            "javascript:alert(1)", "https://a.example/'x", "x' or 1 eq 1", "a|b", "line\nbreak", "1.2.3.4", "::1", "contoso"]
    items = list(vals)
    items.append(json.dumps({"title": "Beacon", "description": f"from https://cdn.evil.example/a.ps1 and 45.137.21.9; {SHA256}.",
                             "device": {"id": M1, "hostName": "ws-fin-014.contoso.com"},
                             "file": {"sha1": "87662bc3d60e4200ceaf7aae249d1c343f4b83c9"},
                             "entities": [{"ip": "10.1.2.3"}, {"domain": "evil.example"}, {"userName": "alice"}, {"accountName": "a\u0000b"}]}))
    return items


def queries():
    return ["ws-fin-014", "x' or 1 eq 1", "a''b", "'", "", "a\u0000b'c", "\"a\\\" | take 1 //", "line\nbreak\r\ttab",
            "\u0001", "{host}", "é漢字🙂", "\\", "a\u0000"]


def models():
    items = []
    for f in sorted((ROOT / "contract/defender-api").glob("*.json")):
        doc = json.loads(f.read_text())
        for k in ("response_example", "response_example_2", "response_example_3"):
            ex = doc.get(k)
            if isinstance(ex, (dict, list)):
                data = json.dumps(ex).encode()
                if len(data) <= 16_000:
                    items.append(data)
    return items


def senders():
    one = [{"name": "siem-a", "secrets": ["a-whsec", "a-whsec-next"], "tenants": ["contoso"]},
           {"name": "soar", "scheme": "github", "secrets": ["soar-gh"], "tenants": ["contoso", "fabrikam"]}]
    many = [{"name": f"s{i}", "secrets": [f"k{i}", f"k{i}-next"], "tenants": ["default"]} for i in range(9)]
    requests = "\n".join(["- contoso", "- fabrikam", "- -", "siem-a fabrikam", "siem-a -", "soar -", "soar tailspin",
                          "nobody contoso", "- wingtip", "- bad name"])
    docs = [
        one,
        many,
        [{"name": "a", "secrets": ["k"], "tenants": ["contoso"]}, {"name": "b", "secrets": ["k"], "tenants": ["fabrikam"]}],
        [{"name": "a", "secrets": ["k"], "tenants": []}],
        [{"name": "a", "secrets": ["k", "l", "m"], "tenants": ["contoso"]}],
        [{"name": "a", "secrets": ["k"], "tenants": ["contoso", "contoso"]}],
        [{"name": "a", "secrets": ["k"], "tenants": ["wingtip"]}],
        [{"name": "a", "secrets": ["k"], "tenants": ["contoso"], "all_tenants": True}],
        [{"name": "a b", "scheme": "slack", "secrets": ["bad name"], "tenants": ["contoso"]}],
        [{"name": "x", "secrets": ["kx"], "tenants": ["contoso", "fabrikam", "tailspin", "default"]}],
        [],
        {},
    ]
    items = [json.dumps(d) + "\n\n" + requests for d in docs]
    items.append("not json\n\n- contoso")
    items.append(json.dumps(many) + "\n\ns8 default\n- default")
    return items


write("webhook", webhook())
write("slack", slack())
write("teams", teams())
write("indicators", indicators())
write("odata", queries())
write("kql", queries())
write("models", models())
for t in sorted(OUT.iterdir()):
    n = sum(1 for _ in t.iterdir())
    size = sum(p.stat().st_size for p in t.iterdir())
    print(f"{t.name}: {n} files, {size} bytes")
write("senders", senders())
