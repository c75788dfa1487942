"""The production configuration: the settings pass Django's deployment checks with only the environment a
deployment sets, refuse to start without their secrets, and the nginx site and systemd units in deploy/ are
accepted by their own tools where those are installed."""

import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def _environment(tmp_path: Path, **overrides: str | None) -> dict[str, str]:
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "SPATIALITE_LIBRARY_PATH", "NODE_MODULES_DIR", "VIRTUAL_ENV"}
    environment = {name: value for name, value in os.environ.items() if name in keep}
    environment.update(
        {
            "DJANGO_SETTINGS_MODULE": "commsplatform.settings.production",
            "PYTHONPATH": str(ROOT),
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "alerts.example.org",
            "AUDIT_CHAIN_KEY": secrets.token_urlsafe(64),
            "DATABASE_URL": f"spatialite:///{tmp_path / 'db.sqlite3'}",
            # Never contacted by the checks.
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "CSRF_TRUSTED_ORIGINS": "https://alerts.example.org",
            "STATIC_ROOT": str(tmp_path / "static"),
            "MEDIA_ROOT": str(tmp_path / "media"),
        }
    )
    for name, value in overrides.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return environment


def _manage(tmp_path: Path, *args: str, **overrides: str | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=tmp_path,
        env=_environment(tmp_path, **overrides),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_the_deployment_environment(tmp_path):
    result = _manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output
    assert "WARNING" not in output, output
    assert "W0" not in output, output


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "AUDIT_CHAIN_KEY"])
def test_refuses_to_start_without_a_required_variable(tmp_path, missing):
    result = _manage(tmp_path, "check", **{missing: None})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"Production settings need {missing} in the environment" in result.stderr, result.stderr


def test_refuses_debug_and_development_keys(tmp_path):
    debug = _manage(tmp_path, "check", DEBUG="true")
    assert debug.returncode != 0
    assert "DEBUG must not be on in production" in debug.stderr, debug.stderr
    dev_key = _manage(tmp_path, "check", SECRET_KEY="insecure-local-development-key-change-me")
    assert dev_key.returncode != 0
    assert "SECRET_KEY is a development key" in dev_key.stderr, dev_key.stderr


def test_nginx_site_is_accepted_by_nginx(tmp_path):
    nginx = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if nginx is None:
        pytest.skip("nginx is not installed here")
    # A throwaway self-signed certificate stands in for the placeholders, and a minimal main configuration
    # includes the site, so that `nginx -t` needs no root and touches nothing of the system's.
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed here (needed for a test certificate)")
    cert, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=alerts.example.org",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    site = (DEPLOY / "nginx" / "commsplatform.conf").read_text()
    site = site.replace("/etc/ssl/commsplatform/fullchain.pem", str(cert))
    site = site.replace("/etc/ssl/commsplatform/privkey.pem", str(key))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        "http {\n  access_log off;\n"
        + "".join(
            f"  {kind}_temp_path {tmp_path}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"  include {tmp_path}/site.conf;\n}}\n"
    )
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr


def test_systemd_units_pass_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here")
    units = []
    for unit in sorted((DEPLOY / "systemd").iterdir()):
        # Templates are verified through an instance, as systemd would start them.
        name = unit.name.replace("@.", "@8001." if "web@" in unit.name else "@alerts.")
        (tmp_path / name).write_text(unit.read_text())
        units.append(f"./{name}")
    result = subprocess.run(
        [analyze, "verify", "--man=no", *units], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    # The programs live in /opt/commsplatform/.venv on a server, not here: only that complaint is expected.
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and not re.search(r"Command /opt/commsplatform/\S+ is not executable", line)
    ]
    if any("Failed to" in line and "bus" in line.lower() for line in problems):
        pytest.skip(f"systemd-analyze cannot run here: {problems[0]}")
    assert problems == [], "\n".join(problems)


def test_every_worker_family_has_an_environment_file_and_all_queues_are_covered():
    from commsplatform.settings.base import CELERY_TASK_QUEUES_NAMES

    covered: set[str] = set()
    for env_file in (DEPLOY / "workers").glob("worker-*.env"):
        values = dict(
            line.split("=", 1) for line in env_file.read_text().splitlines() if line and not line.startswith("#")
        )
        assert int(values["CELERY_CONCURRENCY"]) >= 1
        covered.update(values["CELERY_QUEUES"].split(","))
    assert set(CELERY_TASK_QUEUES_NAMES) <= covered
