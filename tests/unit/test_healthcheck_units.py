"""The health check's units and the log file's drop-in, rendered from the roles'
templates and defaults, pass `systemd-analyze verify` with no line about them,
and the webhook URL is in none of them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from playbooks import REPO, run_playbook

URL = "https://hooks.example.test/services/T0/B0/unit-test-SECRET-51c2"

PLAYBOOK = """
- name: Render the units
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files:
    - {repo}/roles/healthcheck/defaults/main.yml
    - {repo}/roles/healthcheck/vars/main.yml
    - {repo}/roles/logrotate/defaults/main.yml
    - {repo}/roles/logrotate/vars/main.yml
  tasks:
    - name: Render each template
      ansible.builtin.template:
        src: "{repo}/roles/{{{{ item.src }}}}"
        dest: "{out}/{{{{ item.dest }}}}"
        mode: "0644"
      loop:
        - {{src: healthcheck/templates/check.service.j2, dest: sentinel-check.service}}
        - {{src: healthcheck/templates/check.timer.j2, dest: sentinel-check.timer}}
        - {{src: healthcheck/templates/check-failed.service.j2,
            dest: sentinel-check-failed.service}}
        - {{src: healthcheck/templates/check-failed.sh.j2, dest: check-failed.sh}}
        - {{src: logrotate/templates/log-file.conf.j2,
            dest: sentinel-dashboard.service.d/log-file.conf}}
        - {{src: logrotate/templates/logrotate.conf.j2, dest: logrotate.conf}}
"""

# The dashboard's unit as far as the drop-in needs it.
SERVICE = "[Service]\nExecStart=/bin/true\n"


def render(folder: Path, **settings) -> dict[str, str]:
    out = folder / "units"
    (out / "sentinel-dashboard.service.d").mkdir(parents=True)
    (out / "sentinel-dashboard.service").write_text(SERVICE, encoding="utf-8")
    # Executables that exist here, since verify looks for them.
    settings = {"healthcheck_command": "/bin/echo", "__healthcheck_notifier": "/bin/echo",
                "ansible_python_interpreter": sys.executable, **settings}
    result = run_playbook(folder, PLAYBOOK.format(repo=REPO, out=out), settings)
    assert result.returncode == 0, result.stdout + result.stderr
    return {path.name: path.read_text(encoding="utf-8")
            for path in out.rglob("*") if path.is_file()}


def verify(folder: Path, *names: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(str(folder / "units" / n) for n in names)],
        capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("url", ["", URL], ids=["no-webhook", "webhook"])
def test_the_check_units_verify_clean_and_hold_no_url(tmp_path: Path, url: str) -> None:
    files = render(tmp_path, healthcheck_webhook_url=url, healthcheck_webhook_format="slack",
                   healthcheck_interval=20, systemd_base_url_path="dashboard")

    done = verify(tmp_path, "sentinel-check.service", "sentinel-check.timer",
                  "sentinel-check-failed.service")
    assert (done.returncode, done.stderr) == (0, "")
    service = files["sentinel-check.service"]
    assert "--base-path=dashboard \\\n" in service
    assert ("--webhook-file=/etc/sentinel-check/webhook" in service) == bool(url)
    assert "OnUnitActiveSec=20s" in files["sentinel-check.timer"]
    assert "case slack in" in files["check-failed.sh"]
    for name, text in files.items():
        assert "SECRET-51c2" not in text, name


def test_the_check_is_sandboxed_and_fails_only_when_it_cannot_run(tmp_path: Path) -> None:
    service = render(tmp_path)["sentinel-check.service"]

    # Every status exits 0, so the unit fails only for a cycle that could not run.
    assert "    --exit-zero\n" in service
    assert "SuccessExitStatus" not in service
    assert "--failure-mark=/var/lib/sentinel-check/check-failed \\\n" in service
    assert "OnFailure=sentinel-check-failed.service\n" in service
    assert "ProtectSystem=strict\n" in service
    assert "CapabilityBoundingSet=CAP_SYS_ADMIN\n" in service
    # The password file reaches the check as root's copy, not by a capability.
    assert "    /etc/sentinel-dashboard/pgpass %t/sentinel-check/pgpass\n" in service
    assert "    --password-file=%t/sentinel-check/pgpass \\\n" in service
    without = render(tmp_path / "none", healthcheck_password_file="")["sentinel-check.service"]
    assert "ExecStartPre" not in without
    assert "--password-file" not in without
    unhardened = render(tmp_path / "off", healthcheck_hardening=False)["sentinel-check.service"]
    assert "ProtectSystem" not in unhardened


class _Receiver(BaseHTTPRequestHandler):
    """Records each POST's body on the server, answers 200."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.server.bodies.append(self.rfile.read(length).decode())
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def receiver() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.bodies = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def run_failure_alert(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(folder / "units" / "check-failed.sh"), "web1"],
                          capture_output=True, text=True, timeout=30, check=False)


# The text the chat formats carry, by where each puts it.
CHAT_TEXT = {
    "slack": lambda body: body["text"],
    "feishu": lambda body: body["content"]["text"],
    "dingtalk": lambda body: body["text"]["content"],
}


@pytest.mark.parametrize("fmt", ["generic", "slack", "feishu", "dingtalk"])
def test_the_failure_alert_posts_once_in_its_format_until_the_mark_is_gone(
    tmp_path: Path, fmt: str, receiver: ThreadingHTTPServer
) -> None:
    webhook, mark = tmp_path / "webhook", tmp_path / "check-failed"
    webhook.write_text(f"http://127.0.0.1:{receiver.server_address[1]}/hook/SECRET-51c2\n")
    render(tmp_path, healthcheck_webhook_format=fmt, __healthcheck_webhook_file=str(webhook),
           __healthcheck_failure_mark=str(mark))

    first = run_failure_alert(tmp_path)
    again = run_failure_alert(tmp_path)
    mark.unlink()
    after_a_check_ran = run_failure_alert(tmp_path)

    assert first.returncode == again.returncode == after_a_check_ran.returncode == 0
    assert "sentinel-check-failed: alerted" in first.stderr
    assert "already alerted" in again.stderr
    assert len(receiver.bodies) == 2
    body = json.loads(receiver.bodies[0])
    if fmt == "generic":
        # The keys of the check's own alerts (alerts.ALERT_KEYS), in their order.
        assert list(body) == ["event", "status", "host", "service", "findings", "action",
                              "started_at", "resolved_at", "duration_seconds"]
        assert (body["event"], body["host"]) == ("check_failed", "web1")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["started_at"])
    else:
        assert CHAT_TEXT[fmt](body).startswith(
            "CHECK FAILED: the health check of sentinel-dashboard on web1 could not run")
    for shown in (first.stdout, first.stderr):
        assert "SECRET-51c2" not in shown


def test_the_log_file_drop_in_verifies_clean(tmp_path: Path) -> None:
    files = render(tmp_path)

    done = verify(tmp_path, "sentinel-dashboard.service")
    assert (done.returncode, done.stderr) == (0, "")
    assert "Environment=SENTINEL_LOG_FILE=/var/log/financial-dashboard/dashboard.log\n" in (
        files["log-file.conf"])
    assert "LogsDirectory=financial-dashboard\n" in files["log-file.conf"]
    rotation = files["logrotate.conf"]
    for directive in ("daily", "rotate 7", "compress", "delaycompress", "missingok",
                      "notifempty", "nocreate", "su sentinel-dashboard sentinel-dashboard"):
        assert f"\n    {directive}\n" in rotation, directive
    assert "copytruncate" not in rotation.split("{", 1)[1]


UNIT_NAMES_PLAYBOOK = """
- name: Check the names of the check's units
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Run the role's check of its unit names
      ansible.builtin.include_role:
        name: sentinel.dashboard.healthcheck
        tasks_from: unit_names.yml
"""


def check_unit_names(folder: Path, search_path: list[Path], **settings) -> (
        subprocess.CompletedProcess[str]):
    return run_playbook(folder, UNIT_NAMES_PLAYBOOK, {
        "ansible_python_interpreter": sys.executable,
        "__healthcheck_unit_search_path": [str(path) for path in search_path],
        **settings})


def test_unit_names_another_unit_has_are_refused(tmp_path: Path) -> None:
    etc, lib = tmp_path / "etc", tmp_path / "lib"
    etc.mkdir()
    lib.mkdir()
    (lib / "nginx.service").write_text("[Unit]\nDescription=A high performance web server\n")
    # The check's own units, from this release and the one before the marker line.
    ours = render(tmp_path / "ours")
    for name in ("sentinel-check.service", "sentinel-check.timer"):
        (etc / name).write_text(ours[name])
    (etc / "sentinel-check-failed.service").write_text(
        "# Ansible managed\n[Unit]\nDescription=Alert that the health check of x could not run\n")

    taken = check_unit_names(tmp_path, [etc, lib], healthcheck_unit_name="nginx")
    free = check_unit_names(tmp_path, [etc, lib], healthcheck_unit_name="sentinel-watch")
    ours_again = check_unit_names(tmp_path, [etc, lib])

    assert taken.returncode != 0
    assert (f"healthcheck_unit_name 'nginx' names units that are not the health check's: "
            f"{lib / 'nginx.service'}. Choose another name") in taken.stdout + taken.stderr
    assert free.returncode == 0, free.stdout + free.stderr
    assert ours_again.returncode == 0, ours_again.stdout + ours_again.stderr


LOG_DIR_PLAYBOOK = """
- name: Check the log folder
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Run the role's check of its folder
      ansible.builtin.include_role:
        name: sentinel.dashboard.logrotate
        tasks_from: log_dir.yml
"""


def test_a_log_folder_of_another_program_is_refused(tmp_path: Path) -> None:
    others, ours, missing = tmp_path / "nginx", tmp_path / "ours", tmp_path / "missing"
    others.mkdir()
    (others / "access.log").write_text("")
    (others / "dashboard.log").write_text("")
    ours.mkdir()
    for name in ("dashboard.log", "dashboard.log.1", "dashboard.log.2.gz",
                 "dashboard.log-20261204"):
        (ours / name).write_text("")

    def check(folder: Path) -> subprocess.CompletedProcess[str]:
        return run_playbook(tmp_path, LOG_DIR_PLAYBOOK, {
            "ansible_python_interpreter": sys.executable, "logrotate_log_dir": str(folder)})

    refused, accepted, new = check(others), check(ours), check(missing)

    assert refused.returncode != 0
    assert (f"logrotate_log_dir {others} already holds files that are not dashboard.log or "
            "its rotations (access.log)") in " ".join((refused.stdout + refused.stderr).split())
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert new.returncode == 0, new.stdout + new.stderr
