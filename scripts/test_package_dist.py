#!/usr/bin/env python3
"""`make dist-check` (part of `make test`): scripts/package_dist.py on stand-in bootstraps, no release build.

The stand-ins are ELF64 aarch64 headers followed by bytes unique to each binary: the packager checks the
header (a host or debug build is refused), the zip must carry the bytes unchanged. Checked:
- the packaged template references exactly the template's functions' zips, each present in dist/, and
  nothing needs building (no BuildMethod/BuildProperties, no other local path);
- it is infra/template.yaml with only those changes (so other resources flow through), and cfn-lint and
  checkov (the lint-infra venvs and versions) pass on it;
- each zip holds one `bootstrap`, mode 0755, dated SOURCE_DATE_EPOCH, with the input's bytes;
- SHA256SUMS matches every file, also through `sha256sum -c`;
- packaging twice — other input mtimes and modes, another umask, another output path — gives identical
  bytes, and a different SOURCE_DATE_EPOCH gives different zips (the timestamp is really the source's);
- refusals: a missing bootstrap, an x86-64 binary, a function that is not cargo-lambda-built.
"""

from __future__ import annotations

import copy
import os
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import unittest
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import package_dist as pd  # noqa: E402

TEMPLATE = ROOT / "infra" / "template.yaml"
VENV = Path(os.environ.get("VENV", ROOT / ".venv"))
EPOCH = 1764979200  # 2025-12-06T00:00:00Z
LOCAL_PATH_KEYS = {"CodeUri", "ContentUri", "DefinitionUri", "Location", "TemplateURL", "BodyS3Location"}


def fake_elf(machine: int, payload: bytes) -> bytes:
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    return ident + struct.pack("<HHI", pd.ET_DYN, machine, 1) + bytes(44) + payload


def binaries_of_template() -> list[str]:
    return list(pd.functions(pd.load_template(TEMPLATE.read_text(encoding="utf-8"))).values())


def make_bins(root: Path, names: list[str], machine: int = pd.EM_AARCH64, mode: int = 0o755) -> Path:
    for n in names:
        d = root / n
        d.mkdir(parents=True, exist_ok=True)
        p = d / "bootstrap"
        # Incompressible-ish and distinct per binary, so a mixed-up zip is caught.
        p.write_bytes(fake_elf(machine, (n.encode() + bytes(range(256))) * 257))
        p.chmod(mode)
    return root


def run_packager(bins: Path, out: Path, epoch: int = EPOCH, template: Path = TEMPLATE, umask: int | None = None):
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(epoch))
    old = os.umask(umask) if umask is not None else None
    try:
        return subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "package_dist.py"), "--template", str(template),
             "--binaries", str(bins), "--out", str(out), "--extra", str(ROOT / "scripts" / "grant-permissions.sh")],
            capture_output=True, text=True, env=env, check=False,
        )
    finally:
        if old is not None:
            os.umask(old)


def walk(node, path=()):
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, path + (i,))


class PackagedRelease(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="df-dist-"))
        cls.names = binaries_of_template()
        cls.bins = make_bins(cls.tmp / "bins", cls.names)
        cls.out = cls.tmp / "dist"
        r = run_packager(cls.bins, cls.out)
        assert r.returncode == 0, r.stderr
        cls.doc = pd.load_template((cls.out / "template.yaml").read_text(encoding="utf-8"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_the_template_has_the_five_functions(self):
        # export-worker exists only with ExportFanOut=sqs-fifo, but the release ships every binary.
        self.assertEqual(
            sorted(self.names),
            ["chatops-callback", "chatops-worker", "export-worker", "scheduled-export", "webhook-enrich"],
        )

    def test_the_packaged_template_references_exactly_the_zips_and_nothing_needs_building(self):
        text = (self.out / "template.yaml").read_text(encoding="utf-8")
        self.assertNotIn("BuildMethod", text)
        self.assertNotIn("BuildProperties", text)
        uris = []
        for path, value in walk(self.doc):
            if path and path[-1] in LOCAL_PATH_KEYS and isinstance(value, str):
                uris.append(value)
        self.assertEqual(sorted(uris), sorted(f"{n}.zip" for n in self.names), "every local path is a zip")
        for uri in uris:
            self.assertTrue((self.out / uri).is_file(), uri)
        zips = sorted(p.name for p in self.out.glob("*.zip"))
        self.assertEqual(zips, sorted(uris), "dist/ holds exactly the referenced zips")
        for logical_id, res in self.doc["Resources"].items():
            if res.get("Type") == pd.FUNCTION_TYPE:
                self.assertTrue(res["Properties"]["CodeUri"].endswith(".zip"), logical_id)
                self.assertEqual(res["Properties"]["Handler"], "bootstrap")
                self.assertEqual(res["Properties"]["Architectures"], ["arm64"])

    def test_the_packaged_template_is_the_source_with_only_those_changes(self):
        source = pd.load_template(TEMPLATE.read_text(encoding="utf-8"))
        expect = copy.deepcopy(source)
        for res in expect["Resources"].values():
            if res.get("Type") == pd.FUNCTION_TYPE:
                binary = res["Metadata"].pop("BuildProperties")["Binary"]
                del res["Metadata"]["BuildMethod"]
                if not res["Metadata"]:
                    del res["Metadata"]
                res["Properties"]["CodeUri"] = f"{binary}.zip"
        self.assertEqual(self.doc, expect)
        self.assertEqual(set(self.doc["Resources"]), set(source["Resources"]), "no resource lost or added")

    def test_each_zip_holds_one_executable_bootstrap_with_fixed_metadata(self):
        for n in self.names:
            with zipfile.ZipFile(self.out / f"{n}.zip") as z:
                infos = z.infolist()
                self.assertEqual([i.filename for i in infos], ["bootstrap"], n)
                i = infos[0]
                self.assertEqual(i.create_system, 3)
                self.assertEqual(i.external_attr >> 16, 0o100755, oct(i.external_attr >> 16))
                self.assertTrue(stat.S_ISREG(i.external_attr >> 16))
                self.assertEqual(i.date_time, (2025, 12, 6, 0, 0, 0))
                self.assertEqual(i.compress_type, zipfile.ZIP_DEFLATED)
                self.assertEqual(z.read("bootstrap"), (self.bins / n / "bootstrap").read_bytes(), n)

    def test_the_grant_script_ships_executable_and_unchanged(self):
        shipped = self.out / "grant-permissions.sh"
        self.assertEqual(shipped.read_bytes(), (ROOT / "scripts" / "grant-permissions.sh").read_bytes())
        self.assertEqual(stat.S_IMODE(shipped.stat().st_mode), 0o755)

    def test_sha256sums_match_every_file(self):
        lines = (self.out / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
        listed = {}
        for line in lines:
            digest, name = line.split("  ", 1)
            listed[name] = digest
        self.assertEqual(list(listed), sorted(listed))
        others = sorted(p.name for p in self.out.iterdir() if p.name != "SHA256SUMS")
        self.assertEqual(sorted(listed), others, "every file but SHA256SUMS is listed")
        for name, digest in listed.items():
            self.assertEqual(pd.sha256(self.out / name), digest, name)
        if shutil.which("sha256sum"):
            r = subprocess.run(["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=self.out,
                               capture_output=True, text=True, check=False)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # A changed byte is caught.
        tampered = self.tmp / "tampered"
        shutil.copytree(self.out, tampered)
        z = tampered / f"{self.names[0]}.zip"
        data = bytearray(z.read_bytes())
        data[-30] ^= 1
        z.write_bytes(bytes(data))
        if shutil.which("sha256sum"):
            r = subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=tampered,
                               capture_output=True, text=True, check=False)
            self.assertNotEqual(r.returncode, 0)

    def test_packaging_twice_gives_identical_bytes(self):
        bins2 = self.tmp / "elsewhere" / "bins"
        shutil.copytree(self.bins, bins2)
        for n in self.names:
            p = bins2 / n / "bootstrap"
            p.chmod(0o700)  # another mode on disk, another mtime
            os.utime(p, (EPOCH + 12345, EPOCH + 12345))
        out2 = self.tmp / "elsewhere" / "dist"
        r = run_packager(bins2, out2, umask=0o077)
        self.assertEqual(r.returncode, 0, r.stderr)
        first = sorted(p.name for p in self.out.iterdir())
        self.assertEqual(first, sorted(p.name for p in out2.iterdir()))
        for name in first:
            self.assertEqual((self.out / name).read_bytes(), (out2 / name).read_bytes(), name)
        # Packaging again into the same directory replaces it with the same bytes.
        r = run_packager(self.bins, self.out)
        self.assertEqual(r.returncode, 0, r.stderr)
        for name in first:
            self.assertEqual((self.out / name).read_bytes(), (out2 / name).read_bytes(), name)

    def test_another_source_date_gives_other_zips(self):
        out3 = self.tmp / "later"
        r = run_packager(self.bins, out3, epoch=EPOCH + 86400)
        self.assertEqual(r.returncode, 0, r.stderr)
        n = self.names[0]
        self.assertNotEqual((self.out / f"{n}.zip").read_bytes(), (out3 / f"{n}.zip").read_bytes())
        with zipfile.ZipFile(out3 / f"{n}.zip") as z:
            self.assertEqual(z.infolist()[0].date_time, (2025, 12, 7, 0, 0, 0))

    def test_after_sam_package_the_sam_transform_deploys_each_zip_to_its_function(self):
        # What `sam deploy` does with the packaged template: each local CodeUri (a zip, uploaded as it is)
        # becomes its S3 object, then AWS's SAM transform (scripts/cfn_resolve.py, the cfn venv) runs.
        import cfn_resolve as cr
        import cfn_yaml

        sam = cfn_yaml.load((self.out / "template.yaml").read_text(encoding="utf-8"))
        keys = {}
        for logical_id, res in sam["Resources"].items():
            if res.get("Type") == pd.FUNCTION_TYPE:
                uri = res["Properties"]["CodeUri"]
                keys[logical_id] = pd.sha256(self.out / uri)
                res["Properties"]["CodeUri"] = f"s3://release-artifacts/{keys[logical_id]}"
        guid = "4a6f2e1c-8d3b-4c7a-9e5f-2b1d0c9a8e7f"
        params = cr._parameters(sam, {
            "TenantId": guid, "ReaderClientId": guid.replace("4a6f", "1111"),
            "ResponderClientId": guid.replace("4a6f", "2222"), "KeyVaultUrl": "https://contoso-kv.vault.azure.net",
        })
        cfn = cr.transform(sam, params)
        code = {
            logical_id: res["Properties"]["Code"]
            for logical_id, res in cfn["Resources"].items() if res["Type"] == "AWS::Lambda::Function"
        }
        self.assertEqual(code, {k: {"S3Bucket": "release-artifacts", "S3Key": v} for k, v in keys.items()})
        self.assertEqual(len(set(keys.values())), len(keys), "four different zips")

    def test_cfn_lint_and_checkov_pass_on_the_packaged_template(self):
        cfn_lint = VENV / "lint" / "bin" / "cfn-lint"
        checkov = VENV / "checkov" / "bin" / "checkov"
        for tool in (cfn_lint, checkov):
            self.assertTrue(tool.exists(), f"{tool} missing: run `make venv`")
        r = subprocess.run([str(cfn_lint), str(self.out / "template.yaml")], capture_output=True, text=True,
                           check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = subprocess.run(
            [str(checkov), "-f", str(self.out / "template.yaml"), "--framework", "cloudformation",
             "--skip-download", "--quiet", "--compact"],
            capture_output=True, text=True, check=False,
        )
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_a_missing_bootstrap_is_refused_and_nothing_is_written(self):
        bins = make_bins(self.tmp / "partial", self.names[1:])
        out = self.tmp / "partial-out"
        r = run_packager(bins, out)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"no bootstrap for {self.names[0]}", r.stderr)
        self.assertFalse(out.exists())

    def test_a_host_binary_is_refused(self):
        bins = make_bins(self.tmp / "x86", self.names, machine=62)  # EM_X86_64
        r = run_packager(bins, self.tmp / "x86-out")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not aarch64", r.stderr)
        (bins / self.names[0] / "bootstrap").write_text("#!/bin/sh\necho hi\n")
        r = run_packager(bins, self.tmp / "x86-out")
        self.assertIn("not an ELF", r.stderr)

    def test_a_function_the_packager_cannot_build_is_refused(self):
        text = TEMPLATE.read_text(encoding="utf-8")
        self.assertIn("      BuildMethod: rust-cargolambda\n", text)
        bad = self.tmp / "bad.yaml"
        bad.write_text(text.replace("      BuildMethod: rust-cargolambda\n", "      BuildMethod: makefile\n", 1))
        r = run_packager(self.bins, self.tmp / "bad-out", template=bad)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not 'rust-cargolambda'", r.stderr)

    def test_a_directory_with_other_files_is_not_wiped(self):
        out = self.tmp / "mine"
        out.mkdir()
        (out / "notes.txt").write_text("keep")
        r = run_packager(self.bins, out)
        self.assertEqual(r.returncode, 1)
        self.assertTrue((out / "notes.txt").exists())


class ReleaseWorkflow(unittest.TestCase):
    """.github/workflows/release.yml (its schema is checked by check-jsonschema in make dist-check): what
    it must do to publish what `make dist` makes."""

    def setUp(self):
        import yaml

        text = (ROOT / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8")
        self.wf = yaml.safe_load(text)
        self.runs = "\n".join(
            step.get("run", "") for job in self.wf["jobs"].values() for step in job["steps"]
        )

    def test_it_runs_on_version_tags_only(self):
        on = self.wf.get("on", self.wf.get(True))  # YAML 1.1 reads a bare `on` as true
        self.assertEqual(list(on), ["push"])
        self.assertEqual(on["push"], {"tags": ["v*"]})

    def test_it_builds_with_make_dist_for_arm64_and_checks_the_sums(self):
        self.assertIn("rustup target add aarch64-unknown-linux-gnu", self.runs)
        self.assertIn("make dist\n", self.runs + "\n")
        self.assertIn("sha256sum --strict -c SHA256SUMS", self.runs)
        self.assertIn('gh release create "$TAG" dist/*', self.runs)

    def test_it_asks_for_no_more_than_it_needs(self):
        self.assertEqual(self.wf["permissions"], {"contents": "write"})
        for job in self.wf["jobs"].values():
            self.assertNotIn("permissions", job)
            for step in job["steps"]:
                if step.get("uses", "").startswith("actions/checkout"):
                    self.assertIs(step["with"]["persist-credentials"], False)


if __name__ == "__main__":
    unittest.main(verbosity=2)
