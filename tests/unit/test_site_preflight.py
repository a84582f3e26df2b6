"""site.yml refuses bad settings in its first play, on the controller, before
it contacts any host. The dashboard host here is an SSH address where nothing
listens: a refused run never tries it, a run that passes the checks fails there
as unreachable, which shows that the checks let it through."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from playbooks import REPO, ansible_environment, ansible_playbook

# Settings under test, not addresses anything here binds to.
EVERY_ADDRESS = "0.0.0.0"  # noqa: S104
INVENTORY = """
all:
  children:
    sentinel_dashboard:
      hosts:
        nowhere:
          ansible_connection: ssh
          ansible_host: 127.0.0.1
          ansible_port: 9
          ansible_user: nobody
          ansible_ssh_common_args: -o BatchMode=yes -o ConnectTimeout=5
"""


def run_site(tmp_path: Path, settings: dict) -> subprocess.CompletedProcess[str]:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(INVENTORY, encoding="utf-8")
    extra_vars = tmp_path / "settings.json"
    extra_vars.write_text(json.dumps(settings), encoding="utf-8")
    command = [ansible_playbook(), "-i", str(inventory), "-e", f"@{extra_vars}",
               str(REPO / "playbooks" / "site.yml")]
    return subprocess.run(command, capture_output=True, text=True,
                          env=ansible_environment(), timeout=180)


def output_of(result: subprocess.CompletedProcess[str]) -> str:
    return " ".join((result.stdout + result.stderr).split())


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        # nginx_tls follows systemd's defaults, which the checks must see.
        ({"nginx_tls_base_path": "dashboard"},
         "follow systemd_base_url_path and systemd_max_upload_mb"),
        ({"nginx_tls_max_body_mb": 5},
         "follow systemd_base_url_path and systemd_max_upload_mb"),
        ({"firewall_mode": "proxi"}, "firewall_mode must be proxy or direct (is 'proxi')"),
        ({"firewall_ssh_port": "abc"}, "firewall_ssh_port (abc)"),
        ({"firewall_dashboard_port": 443}, "firewall_dashboard_port 443 must differ"),
        ({"firewall_mode": "direct"}, "but Streamlit listens on 127.0.0.1 only"),
        ({"systemd_listen_address": EVERY_ADDRESS}, "Streamlit listens on 0.0.0.0"),
        ({"systemd_listen_port": 70000}, "nginx_tls_upstream_port"),
        ({"nginx_tls_server_names": ["dashboard.example.test; return 200"]},
         'refused: "dashboard.example.test; return 200"'),
        ({"app_refresh": 5, "app_cache_ttl": 10}, "app_cache_ttl below app_refresh"),
        ({"healthcheck_interval": 5}, "healthcheck_interval whole seconds of at least 10"),
        ({"healthcheck_webhook_format": "teams"}, "(is 'teams')"),
        ({"healthcheck_port": 8502}, "follow systemd_listen_port"),
        ({"logrotate_log_dir": "/srv/logs"}, "a folder below /var/log (is '/srv/logs')"),
        ({"logrotate_journal_max_use": "lots"}, "a size such as 500M (is 'lots')"),
    ],
    ids=["path", "upload", "mode", "ssh-port", "port-clash", "direct-on-loopback",
         "open-listener", "upstream-port", "server-name", "app", "check-interval",
         "webhook-format", "check-port", "log-dir", "journal-size"],
)
def test_a_bad_setting_stops_the_run_before_any_host_is_contacted(tmp_path, settings, message):
    result = run_site(tmp_path, settings)

    assert result.returncode != 0
    assert message in output_of(result)
    assert "UNREACHABLE" not in result.stdout
    assert "Deploy the dashboard" not in result.stdout


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"systemd_base_url_path": "dashboard", "systemd_max_upload_mb": 5},
        {"firewall_mode": "direct", "systemd_listen_address": EVERY_ADDRESS},
        {"systemd_streamlit_options": ["--theme.font=sans serif", "--theme.base=dark"],
         "app_environment": {"TZ": "Asia/Hong_Kong", "_X1": "a=b"},
         "systemd_memory_max": "1.5G", "systemd_cpu_quota": "150%"},
        {"nginx_tls_server_names": ["dashboard.example.test", "*.example.test",
                                    "192.0.2.10", "2001:db8::10"]},
        {"healthcheck_webhook_url": "https://hooks.example.test/T0/B0/abc123",
         "healthcheck_webhook_format": "slack", "healthcheck_interval": 20},
    ],
    ids=["defaults", "sub-path", "direct", "options", "names", "webhook"],
)
def test_good_settings_pass_the_checks_and_reach_for_the_host(tmp_path, settings):
    result = run_site(tmp_path, settings)

    assert "UNREACHABLE" in result.stdout, result.stdout + result.stderr
    assert "Deploy the dashboard" in result.stdout


def test_each_name_that_is_no_host_name_or_address_is_named(tmp_path):
    refused = ["two words.example.test", "semi;colon.example.test", "-lead.example.test",
               "trail-.example.test", "double..dot.example.test", "10.0.0.300",
               "*.*.example.test", "new\nline.example.test", "", "ünicode.example.test",
               "a" * 64 + ".example.test", "[2001:db8::1]"]
    accepted = ["dashboard.example.test", "localhost", "*.example.test", "10.0.0.30"]

    result = run_site(tmp_path, {"nginx_tls_server_names": accepted + refused})

    output = output_of(result)
    assert result.returncode != 0
    named = output.split("refused:", 1)[1]
    for name in refused:
        assert json.dumps(name) in named, name
    for name in accepted:
        assert json.dumps(name) not in named, name


@pytest.mark.parametrize("url", ["hooks.example.test/no-scheme-SECRET-7d1e",
                                 "https://hooks.example.test/two words-SECRET-7d1e"])
def test_a_bad_webhook_url_is_refused_without_being_shown(tmp_path, url):
    result = run_site(tmp_path, {"healthcheck_webhook_url": url})

    assert result.returncode != 0
    assert "healthcheck_webhook_url must be empty or one http:// or https:// URL" in output_of(
        result)
    assert "SECRET-7d1e" not in result.stdout + result.stderr
    assert "Deploy the dashboard" not in result.stdout


def test_a_good_webhook_url_is_not_shown_even_verbosely(tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(INVENTORY, encoding="utf-8")
    extra_vars = tmp_path / "settings.json"
    extra_vars.write_text(json.dumps(
        {"healthcheck_webhook_url": "https://hooks.example.test/SECRET-7d1e"}), encoding="utf-8")
    result = subprocess.run(
        [ansible_playbook(), "-vvv", "-i", str(inventory), "-e", f"@{extra_vars}",
         str(REPO / "playbooks" / "site.yml")],
        capture_output=True, text=True, env=ansible_environment(), timeout=180)

    assert "UNREACHABLE" in result.stdout
    assert "SECRET-7d1e" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"systemd_streamlit_options": ["--theme.base=dark\nExecStartPre=/bin/touch /tmp/x"]},
         "systemd_streamlit_options: a line break or another control character"),
        ({"app_environment": {"FOO": "x\nPGUSER=sentinel_owner"}},
         "app_environment: a line break or another control character"),
        ({"app_environment": {"FOO\nPGUSER": "x"}}, "app_environment names must be letters"),
        ({"nginx_tls_basic_auth_realm": "Sentinel\r\nX-Injected: 1"},
         "nginx_tls_basic_auth_realm: a line break or another control character"),
        ({"systemd_streamlit_options": ["--server.address=0.0.0.0"]},
         "--server.address (set systemd_listen_address)"),
        ({"systemd_streamlit_options": ["--server.port", "9000"]},
         "must be Streamlit options starting with --"),
        ({"app_language": "fr"}, "value of app_language must be one of: en, zh"),
        ({"app_environment": {"A=B": "x"}}, "app_environment names must be letters"),
        ({"systemd_memory_max": "512M ExecStartPre=/bin/true"},
         "systemd_memory_max must be empty, infinity"),
        ({"systemd_cpu_quota": "lots"}, "systemd_cpu_quota empty or a percentage"),
    ],
    ids=["unit-line", "env-value", "env-name", "realm", "managed-option", "bare-value",
         "choice", "env-equals", "memory", "cpu"],
)
def test_a_setting_that_would_write_lines_of_its_own_or_bypass_a_check_is_refused(
        tmp_path, settings, message):
    result = run_site(tmp_path, settings)

    assert result.returncode != 0
    assert message in output_of(result)
    assert "UNREACHABLE" not in result.stdout
