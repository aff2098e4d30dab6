"""Silt's own checkov policies (tests/terraform/checkov/*.yaml) pass what they should and fail
what they should, on fixtures named good_* and bad_*; and every inline skip in terraform/ still
suppresses a check (a skip left behind after a fix would hide that check's next failure)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
POLICIES = HERE / "checkov"
TERRAFORM = HERE.parents[1] / "terraform"


def checkov() -> str:
    """checkov's executable: $SILT_CHECKOV, else where scripts/check-terraform.sh installs it."""
    venv = os.environ.get("SILT_VENV", str(Path.home() / ".cache" / "silt-venv"))
    default = Path(os.environ.get("SILT_CHECKOV_VENV", f"{venv}-checkov")) / "bin" / "checkov"
    exe = Path(os.environ.get("SILT_CHECKOV", default))
    assert exe.is_file(), f"{exe} missing: run scripts/check-terraform.sh, which installs checkov"
    return str(exe)


def policy_ids() -> set[str]:
    ids = set()
    for path in POLICIES.glob("*.yaml"):
        for line in path.read_text().splitlines():
            if line.strip().startswith("id:"):
                ids.add(line.split(":", 1)[1].strip().strip('"'))
    return ids


def scan(directory: Path, *args: str) -> dict:
    """checkov's JSON results for `directory` with Silt's policies (exit 1 = some check failed)."""
    result = subprocess.run(
        [checkov(), "-d", str(directory), "--framework", "terraform",
         "--external-checks-dir", str(POLICIES), "--skip-download", "-o", "json", *args],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)["results"]


def test_every_policy_passes_good_and_fails_bad_fixtures():
    ids = policy_ids()
    assert len(ids) == len(list(POLICIES.glob("*.yaml"))), "one policy per file, unique ids"
    report = scan(HERE / "checkov_fixtures", "--check", ",".join(sorted(ids)))
    outcomes = {
        (c["check_id"], c["resource"].split(".", 1)[1], outcome)
        for outcome in ("passed", "failed")
        for c in report[f"{outcome}_checks"]
    }
    expected = {
        ("CKV2_SILT_1", "good_encrypted", "passed"),
        ("CKV2_SILT_1", "bad_unencrypted", "failed"),
        ("CKV2_SILT_1", "bad_encryption_unset", "failed"),
        ("CKV2_SILT_2", "good_tls13", "passed"),
        ("CKV2_SILT_2", "good_plain_http", "passed"),
        ("CKV2_SILT_2", "bad_old_tls", "failed"),
        ("CKV2_SILT_3", "good_readyz", "passed"),
        ("CKV2_SILT_3", "bad_healthz", "failed"),
        ("CKV2_SILT_4", "good_managed_password", "passed"),
        ("CKV2_SILT_4", "bad_own_password", "failed"),
    }
    assert outcomes == expected


def test_every_inline_skip_suppresses_a_failure(tmp_path):
    """Each skip hides a check that fails without it: checkov reports a skipped check as
    skipped whether or not it would fail, so the configuration is scanned again unskipped."""
    report = scan(TERRAFORM)
    assert report["failed_checks"] == []
    skipped = {(c["file_path"], c["check_id"]) for c in report["skipped_checks"]}

    unskipped = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, unskipped)
    for path in unskipped.rglob("*.tf"):
        lines = path.read_text().splitlines(keepends=True)
        path.write_text("".join(line for line in lines if "checkov:skip=" not in line))
    failing = {(c["file_path"], c["check_id"]) for c in scan(unskipped)["failed_checks"]}
    assert skipped == failing
