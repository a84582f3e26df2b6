"""`sentinel-dashboard check`: statuses, restarts within their limit, one alert per incident
start and end, the four webhook formats, and a webhook URL that is never shown."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from check_standins import (
    FakeSystemctl,
    Health,
    Receiver,
    systemctl_calls,
    systemctl_on_path,
)
from sentinel_dashboard import alerts, cli, watchdog
from support import CLI, Database

# Recognisable in any output: the part of the webhook URL that is its credential.
URL_MARK = "tok3n-5ecret-4242"
# A page that runs fast and cleanly: the tests about alerts need no real chart.
CALM_PAGE = "import streamlit as st\nst.write('fine')\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def add_candle(database: Database, minutes_ago: int, symbol: str = "BTCUSDT") -> None:
    with database.connect() as conn:
        conn.execute(
            "INSERT INTO sentinel.candles (symbol, open_time, open, high, low, close, volume,"
            " node) VALUES (%s, date_trunc('minute', now()) - make_interval(mins => %s),"
            " 100, 101, 99, 100.5, 3, 'HK-Primary')",
            (symbol, minutes_ago),
        )


@pytest.fixture
def fresh(schema_db: Database) -> Database:
    add_candle(schema_db, 0)
    return schema_db


@pytest.fixture
def health() -> Health:
    with Health() as server:
        yield server


@pytest.fixture
def receiver() -> Receiver:
    with Receiver(URL_MARK) as server:
        yield server


def calm_page(folder: Path) -> Path:
    page = folder / "calm_page.py"
    page.write_text(CALM_PAGE)
    return page


def config_for(tmp_path: Path, health: Health, webhook: str | None = None,
               **changes) -> watchdog.CheckConfig:
    webhook_file = None
    if webhook is not None:
        webhook_file = tmp_path / "webhook"
        webhook_file.write_text(webhook + "\n")
        webhook_file.chmod(0o600)
    settings = {
        "port": health.port,
        "page": calm_page(tmp_path),
        # The cycles below pass clocks minutes ahead; the candle must stay fresh.
        "stale_after": 3600,
        "state_file": tmp_path / "state" / "state.json",
        "status_file": tmp_path / "state" / "status.json",
        "webhook_file": webhook_file,
        **changes,
    }
    return watchdog.CheckConfig(**settings)


def minutes(start: datetime, n: int) -> datetime:
    return start + timedelta(minutes=n)


NOW = datetime.now(UTC).replace(microsecond=0)


def test_one_incident_alert_and_one_resolution_over_ok_down_down_ok(
    fresh: Database, health: Health, receiver: Receiver, tmp_path: Path
) -> None:
    config = config_for(tmp_path, health, receiver.url)
    unit = FakeSystemctl(active=True, restart_fixes=False)

    first = watchdog.cycle(config, systemctl=unit, now=minutes(NOW, 0))
    unit.active = False
    second = watchdog.cycle(config, systemctl=unit, now=minutes(NOW, 1))
    third = watchdog.cycle(config, systemctl=unit, now=minutes(NOW, 2))
    unit.active = True
    fourth = watchdog.cycle(config, systemctl=unit, now=minutes(NOW, 3))

    assert [o.result.status for o in (first, second, third, fourth)] == [
        "ok", "down", "down", "ok"]
    assert [o.exit_code for o in (first, second, third, fourth)] == [0, 2, 2, 0]
    assert [o.alert for o in (first, second, third, fourth)] == [
        None, "incident", None, "resolved"]
    incident, resolved = receiver.delivered()
    assert len(receiver.requests) == 2
    assert incident["event"] == "incident"
    assert incident["status"] == "down"
    assert incident["action"] == "restarted sentinel-dashboard"
    assert incident["started_at"] == watchdog.market.iso_utc(minutes(NOW, 1))
    assert {f["check"]: f["ok"] for f in incident["findings"]}["service"] is False
    assert resolved["event"] == "resolved"
    assert resolved["status"] == "ok"
    assert resolved["started_at"] == incident["started_at"]
    assert resolved["resolved_at"] == watchdog.market.iso_utc(minutes(NOW, 3))
    assert resolved["duration_seconds"] == 120
    assert unit.restarts() == 2


def test_degraded_becoming_down_stays_one_incident(
    schema_db: Database, health: Health, receiver: Receiver, tmp_path: Path
) -> None:
    add_candle(schema_db, 10)
    config = config_for(tmp_path, health, receiver.url, stale_after=120)
    unit = FakeSystemctl(active=True, restart_fixes=False)

    degraded = watchdog.cycle(config, systemctl=unit)
    unit.active = False
    down = watchdog.cycle(config, systemctl=unit)
    add_candle(schema_db, -1)  # the pipeline catches up; stamped a minute ahead
    unit.active = True
    ok = watchdog.cycle(config, systemctl=unit)

    assert (degraded.result.status, down.result.status, ok.result.status) == (
        "degraded", "down", "ok")
    assert [p["event"] for p in receiver.delivered()] == ["incident", "resolved"]
    assert receiver.delivered()[0]["status"] == "degraded"
    assert down.incident["worst"] == "down"


def test_restarts_stop_at_the_limit_and_resume_after_the_window(
    fresh: Database, health: Health, tmp_path: Path
) -> None:
    config = config_for(tmp_path, health, max_restarts=2, restart_window=600)
    unit = FakeSystemctl(active=False, restart_fixes=False)

    actions = [watchdog.cycle(config, systemctl=unit, now=minutes(NOW, n)).action
               for n in range(4)]
    later = watchdog.cycle(config, systemctl=unit, now=minutes(NOW, 10))

    assert actions == [
        "restarted sentinel-dashboard",
        "restarted sentinel-dashboard",
        "restart limit reached (2 in 10 min), not restarting",
        "restart limit reached (2 in 10 min), not restarting",
    ]
    assert later.action == "restarted sentinel-dashboard"
    assert unit.restarts() == 3
    state = json.loads(config.state_file.read_text())
    assert state["restarts"] == [watchdog.market.iso_utc(minutes(NOW, n)) for n in (1, 10)]


def test_stale_candles_are_degraded_and_never_restart(
    schema_db: Database, health: Health, receiver: Receiver, tmp_path: Path
) -> None:
    add_candle(schema_db, 10)
    config = config_for(tmp_path, health, receiver.url, stale_after=120)
    unit = FakeSystemctl(active=True)

    outcome = watchdog.cycle(config, systemctl=unit)

    assert outcome.result.status == "degraded"
    assert outcome.exit_code == 1
    assert outcome.action == "none"
    assert unit.restarts() == 0
    [stale] = [f for f in outcome.result.failures()]
    assert stale.check == "freshness"
    assert stale.reason.startswith("stale data: the newest BTCUSDT candle")
    assert re.search(r" is 10 min( \d+ s)? old, more than 2 min$", stale.reason), stale.reason
    [alert] = receiver.delivered()
    assert (alert["event"], alert["status"], alert["action"]) == ("incident", "degraded", "none")


def test_an_unreachable_database_is_degraded_and_said_so(
    health: Health, tmp_path: Path
) -> None:
    dsn = f"host=127.0.0.1 port={free_port()} dbname=market connect_timeout=2"
    config = config_for(tmp_path, health, dsn=dsn)
    unit = FakeSystemctl(active=True)

    outcome = watchdog.cycle(config, systemctl=unit)

    assert outcome.result.status == "degraded"
    assert unit.restarts() == 0
    [failure] = outcome.result.failures()
    assert failure.check == "database"
    assert failure.reason.startswith("cannot connect to database 'market' on 127.0.0.1:")


# What each broken release adds to a copy of the installed page, and what the check says.
BROKEN_RELEASES = {
    "missing module": ("import sentinel_release_that_was_never_installed\n",
                       "the page fails with No module named "
                       "'sentinel_release_that_was_never_installed'"),
    "exception": ("raise RuntimeError('release 42 is broken')\n",
                  "the page fails with release 42 is broken"),
    "syntax error": ("def broken(:\n",
                     "the page cannot run: SyntaxError: invalid syntax (line 8)"),
}
FUTURE = "from __future__ import annotations\n"


@pytest.mark.parametrize("breakage", list(BROKEN_RELEASES))
def test_a_page_failing_on_load_is_down_while_the_web_server_answers(
    fresh: Database, health: Health, tmp_path: Path, breakage: str
) -> None:
    page = tmp_path / "page.py"
    installed = watchdog.installed_page().read_text()
    added, expected = BROKEN_RELEASES[breakage]
    assert installed.count(FUTURE) == 1
    page.write_text(installed.replace(FUTURE, FUTURE + added))
    config = config_for(tmp_path, health, page=page)
    unit = FakeSystemctl(active=True)

    outcome = watchdog.cycle(config, systemctl=unit)

    found = {f.check: f for f in outcome.result.findings}
    assert found["web"].ok
    assert found["service"].ok
    assert not found["page"].ok
    assert found["page"].reason == expected
    assert outcome.result.status == "down"
    assert outcome.action == "restarted sentinel-dashboard"


def test_the_installed_page_on_fresh_data_is_ok(
    fresh: Database, health: Health, tmp_path: Path
) -> None:
    config = config_for(tmp_path, health, page=watchdog.installed_page(), stale_after=None)

    outcome = watchdog.cycle(config, systemctl=FakeSystemctl(active=True))

    assert [(f.check, f.ok) for f in outcome.result.findings] == [
        ("service", True), ("web", True), ("page", True), ("database", True),
        ("freshness", True)]
    assert {f.check: f.reason for f in outcome.result.findings}["page"] == (
        "the page runs without errors")


def test_the_web_check_uses_the_base_path(tmp_path: Path) -> None:
    with Health("dashboard") as server:
        wrong = config_for(tmp_path, server)
        right = config_for(tmp_path, server, base_path="/dashboard/")
        missed = watchdog.check_web(wrong)
        found = watchdog.check_web(right)

    assert not missed.ok
    assert missed.reason.endswith("answered HTTP 404, not 200 ok")
    assert found.ok


def incident_in(fmt: str, tmp_path: Path, health: Health, receiver: Receiver) -> dict:
    config = config_for(tmp_path, health, receiver.url, webhook_format=fmt)
    watchdog.cycle(config, systemctl=FakeSystemctl(active=False))
    [payload] = receiver.delivered()
    return payload


def test_generic_format(fresh: Database, health: Health, receiver: Receiver,
                        tmp_path: Path) -> None:
    payload = incident_in("generic", tmp_path, health, receiver)

    assert list(payload) == list(alerts.ALERT_KEYS)
    assert payload["host"] == socket.gethostname()
    assert payload["service"] == "sentinel-dashboard"
    assert payload["resolved_at"] is None
    assert payload["duration_seconds"] is None


@pytest.mark.parametrize(
    ("fmt", "unwrap"),
    [
        ("feishu", lambda p: (p["msg_type"], p["content"]["text"], set(p), set(p["content"]))),
        ("dingtalk", lambda p: (p["msgtype"], p["text"]["content"], set(p), set(p["text"]))),
        ("slack", lambda p: ("text", p["text"], set(p), {"text"})),
    ],
)
def test_chat_formats(fmt: str, unwrap, fresh: Database, health: Health, receiver: Receiver,
                      tmp_path: Path) -> None:
    kind, text, keys, inner = unwrap(incident_in(fmt, tmp_path, health, receiver))

    assert kind == "text"
    assert keys == {"feishu": {"msg_type", "content"}, "dingtalk": {"msgtype", "text"},
                    "slack": {"text"}}[fmt]
    assert inner == {"feishu": {"text"}, "dingtalk": {"content"}, "slack": {"text"}}[fmt]
    lines = text.splitlines()
    assert lines[0] == f"DOWN: sentinel-dashboard on {socket.gethostname()}"
    assert "- service: sentinel-dashboard is inactive, not active" in lines
    assert "Action: restarted sentinel-dashboard" in lines


def test_an_alert_refused_then_accepted_is_delivered_once(
    fresh: Database, health: Health, receiver: Receiver, tmp_path: Path
) -> None:
    config = config_for(tmp_path, health, receiver.url)
    unit = FakeSystemctl(active=False, restart_fixes=False)

    receiver.status = 500
    refused = watchdog.cycle(config, systemctl=unit)
    receiver.status = 200
    accepted = watchdog.cycle(config, systemctl=unit)
    quiet = watchdog.cycle(config, systemctl=unit)

    assert refused.delivery_error == "the webhook answered HTTP 500"
    assert (refused.pending, accepted.pending, quiet.pending) == (1, 0, 0)
    assert [r["answered"] for r in receiver.requests] == [500, 200]
    [delivered] = receiver.delivered()
    assert delivered == receiver.requests[0]["payload"]
    assert delivered["event"] == "incident"


def test_an_unreachable_webhook_keeps_the_alert_for_the_next_cycle(
    fresh: Database, health: Health, receiver: Receiver, tmp_path: Path
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/hooks/{URL_MARK}"
    config = config_for(tmp_path, health, closed)
    unit = FakeSystemctl(active=False)  # the restart mends it: the next cycle is ok

    first = watchdog.cycle(config, systemctl=unit)
    config.webhook_file.write_text(receiver.url)
    second = watchdog.cycle(config, systemctl=unit)

    assert first.delivery_error == "the webhook could not be reached: Connection refused"
    assert first.pending == 1
    assert second.pending == 0
    assert [p["event"] for p in receiver.delivered()] == ["incident", "resolved"]


def test_a_feishu_refusal_in_the_body_keeps_the_alert(
    fresh: Database, health: Health, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.body = {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"}
    config = config_for(tmp_path, health, receiver.url, webhook_format="feishu")

    outcome = watchdog.cycle(config, systemctl=FakeSystemctl(active=False))

    assert outcome.pending == 1
    assert outcome.delivery_error == (
        "the webhook refused the alert (code 19001: param invalid: incoming webhook access "
        "token invalid)")


# -- The command line ------------------------------------------------------------------


def run_check(database: Database, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**database.env,
           "PATH": f"{tmp_path / 'unit' / 'bin'}{os.pathsep}{database.env['PATH']}"}
    return subprocess.run(
        [str(CLI), "-v", "check", "--state-file", str(tmp_path / "state.json"),
         "--status-file", str(tmp_path / "status.json"), "--page", str(calm_page(tmp_path)),
         *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_cli_brings_a_stopped_service_back_and_alerts_once_each_way(
    fresh: Database, receiver: Receiver, tmp_path: Path
) -> None:
    systemctl_on_path(tmp_path / "unit", active=False)
    webhook = tmp_path / "webhook"
    webhook.write_text(receiver.url)
    webhook.chmod(0o600)
    with Health("dashboard") as server:
        flags = ["--port", str(server.port), "--base-path", "dashboard",
                 "--webhook-file", str(webhook), "--webhook-format", "slack", "--json"]
        down = run_check(fresh, tmp_path, *flags)
        up = run_check(fresh, tmp_path, *flags)

    assert (down.returncode, up.returncode) == (2, 0)
    assert systemctl_calls(tmp_path / "unit") == [
        "is-active sentinel-dashboard", "restart sentinel-dashboard",
        "is-active sentinel-dashboard"]
    summary = [line for line in down.stderr.splitlines() if line.startswith("sentinel-check: ")]
    assert summary[-1].startswith(
        'sentinel-check: status=down service=sentinel-dashboard '
        'action="restarted sentinel-dashboard" alert=incident pending=0 failed="service: ')
    assert up.stderr.splitlines()[-1] == (
        'sentinel-check: status=ok service=sentinel-dashboard action="none" '
        "alert=resolved pending=0")
    printed = json.loads(up.stdout)
    assert printed == json.loads((tmp_path / "status.json").read_text())
    assert (printed["status"], printed["alert"], printed["incident"]) == ("ok", "resolved", None)
    texts = [p["text"] for p in receiver.delivered()]
    assert [t.split(":")[0] for t in texts] == ["DOWN", "RESOLVED"]
    # Anyone may read the result; the state, with its queued alerts, stays private.
    assert (tmp_path / "status.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "state.json").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("webhook", ["refusing", "failing", "malformed"])
def test_the_webhook_url_is_never_shown(
    webhook: str, fresh: Database, health: Health, receiver: Receiver, tmp_path: Path
) -> None:
    systemctl_on_path(tmp_path / "unit", active=False)
    url = {
        "refusing": f"http://127.0.0.1:{free_port()}/hooks/{URL_MARK}",
        "failing": receiver.url,
        "malformed": f"htp:/127.0.0.1/hooks/{URL_MARK}",
    }[webhook]
    receiver.status = 503
    url_file = tmp_path / "webhook"
    url_file.write_text(url)
    url_file.chmod(0o600)

    done = run_check(fresh, tmp_path, "--port", str(health.port),
                     "--webhook-file", str(url_file), "--json")

    assert done.returncode == 2
    status = json.loads(done.stdout)
    assert status["pending_alerts"] == 1
    assert status["delivery_error"].startswith("the webhook ")
    for shown in (done.stdout, done.stderr, (tmp_path / "status.json").read_text(),
                  (tmp_path / "state.json").read_text()):
        assert URL_MARK not in shown
        assert "/hooks/" not in shown
    assert len(receiver.requests) == (1 if webhook == "failing" else 0)


def test_usage_errors_and_unwritable_state_exit_3(fresh: Database, tmp_path: Path) -> None:
    systemctl_on_path(tmp_path / "unit", active=True)
    blocker = tmp_path / "a-file"
    blocker.write_text("")

    usage = run_check(fresh, tmp_path, "--port", "http")
    unknown = run_check(fresh, tmp_path, "--restart-limit", "3")
    unwritable = run_check(fresh, tmp_path, "--state-file", str(blocker / "d" / "state.json"))

    assert usage.returncode == 3
    assert usage.stderr.splitlines()[-1] == (
        "sentinel-dashboard check: error: argument --port: not a whole number: 'http'")
    assert unknown.returncode == 3
    assert unknown.stderr.splitlines()[-1] == (
        "sentinel-dashboard check: error: unrecognized arguments: --restart-limit 3")
    assert unwritable.returncode == 3
    assert unwritable.stderr.splitlines()[-1] == (
        f"sentinel-check: error: cannot write {blocker / 'd' / 'state.json'}: Not a directory")


def test_a_webhook_file_others_can_read_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url_file = tmp_path / "webhook"
    url_file.write_text(f"http://127.0.0.1:9/hooks/{URL_MARK}")
    url_file.chmod(0o644)

    assert alerts.read_url(url_file).endswith(URL_MARK)

    assert caplog.messages == [f"the webhook file {url_file} can be read by others than its owner"]


def test_a_crash_of_the_check_exits_3_without_its_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def crash(config: watchdog.CheckConfig) -> None:
        raise RuntimeError(f"http://127.0.0.1:9/hooks/{URL_MARK}")

    monkeypatch.setattr(watchdog, "cycle", crash)

    code = cli.main(["check", "--state-file", str(tmp_path / "state.json"),
                     "--status-file", str(tmp_path / "status.json")])

    captured = capsys.readouterr()
    assert code == 3
    assert captured.err.startswith("sentinel-check: error: the check crashed: RuntimeError at ")
    assert URL_MARK not in captured.out + captured.err


def test_a_check_that_runs_again_resolves_the_alert_that_it_could_not_run(
    fresh: Database, health: Health, receiver: Receiver, tmp_path: Path
) -> None:
    mark = tmp_path / "check-failed"
    mark.touch()
    alerted_at = datetime.fromtimestamp(mark.stat().st_mtime, UTC).replace(microsecond=0)
    config = config_for(tmp_path, health, receiver.url, failure_mark=mark,
                        webhook_format="slack")
    unit = FakeSystemctl(active=True)
    later = alerted_at + timedelta(minutes=3)

    first = watchdog.cycle(config, systemctl=unit, now=later)
    first_status = json.loads(config.status_file.read_text())
    second = watchdog.cycle(config, systemctl=unit, now=later + timedelta(minutes=1))

    assert (first.check_recovered, second.check_recovered) == (True, False)
    assert not mark.exists()
    [text] = [p["text"] for p in receiver.delivered()]
    assert text == (
        f"CHECK RUNNING AGAIN: the health check of sentinel-dashboard on "
        f"{socket.gethostname()} runs again after 3 min (it could not run at "
        f"{watchdog.market.iso_utc(alerted_at)}); sentinel-dashboard is ok.")
    assert "check_recovered=yes" in first.log_line()
    assert first_status["check_recovered"] is True


def test_the_resolution_of_a_failed_check_comes_before_a_new_incident(
    fresh: Database, health: Health, receiver: Receiver, tmp_path: Path
) -> None:
    mark = tmp_path / "check-failed"
    mark.touch()
    config = config_for(tmp_path, health, receiver.url, failure_mark=mark)

    watchdog.cycle(config, systemctl=FakeSystemctl(active=False, restart_fixes=False))

    assert [(p["event"], p["status"]) for p in receiver.delivered()] == [
        ("check_resolved", "down"), ("incident", "down")]


def test_exit_zero_keeps_the_status_and_exits_0(fresh: Database, tmp_path: Path) -> None:
    systemctl_on_path(tmp_path / "unit", active=False)
    port = free_port()  # nothing answers there

    plain = run_check(fresh, tmp_path, "--port", str(port), "--max-restarts", "0")
    zero = run_check(fresh, tmp_path, "--port", str(port), "--max-restarts", "0",
                     "--exit-zero")
    unwritable = run_check(fresh, tmp_path, "--exit-zero",
                           "--status-file", str(tmp_path / "status.json" / "x"))

    assert plain.returncode == 2
    assert zero.returncode == 0
    assert zero.stderr.splitlines()[-1].startswith("sentinel-check: status=down ")
    assert json.loads((tmp_path / "status.json").read_text())["status"] == "down"
    assert unwritable.returncode == 3


def run_status(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLI), "status", *args], capture_output=True, text=True,
                          timeout=60, check=False)


def test_status_reads_the_last_result_for_people_and_scripts(
    fresh: Database, tmp_path: Path
) -> None:
    systemctl_on_path(tmp_path / "unit", active=False)
    status_file = str(tmp_path / "status.json")
    run_check(fresh, tmp_path, "--port", str(free_port()), "--max-restarts", "0")

    shown = run_status("--status-file", status_file)
    printed = run_status("--status-file", status_file, "--json")
    fresh_enough = run_status("--status-file", status_file, "--max-age", "600")

    assert shown.returncode == printed.returncode == fresh_enough.returncode == 2
    lines = shown.stdout.splitlines()
    assert re.fullmatch(
        rf"down: sentinel-dashboard on {re.escape(socket.gethostname())}, checked "
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+ s ago\)", lines[0]), lines[0]
    assert "- service: sentinel-dashboard is inactive, not active" in lines
    assert "action: restart limit reached (0 in 1 h), not restarting" in lines
    assert any(line.startswith("incident since ") for line in lines)
    assert json.loads(printed.stdout) == json.loads(Path(status_file).read_text())


def test_status_exits_3_without_a_recent_result(tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"status": "ok", "checked_at": "2023-03-01T00:00:00Z",
                               "findings": [], "host": "h", "service": "s"}))
    not_a_result = tmp_path / "other.json"
    not_a_result.write_text('{"status": "fine"}')
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{")

    stale = run_status("--status-file", str(old), "--max-age", "300")
    any_age = run_status("--status-file", str(old))
    missing = run_status("--status-file", str(tmp_path / "none.json"))
    other = run_status("--status-file", str(not_a_result))
    broken = run_status("--status-file", str(garbage))
    usage = run_status("--max-age", "soon")

    assert (stale.returncode, any_age.returncode) == (3, 0)
    assert stale.stderr.strip().endswith("more than 5 min: is its timer running?")
    assert stale.stdout.startswith("ok: s on h, checked 2023-03-01T00:00:00Z")
    assert missing.returncode == other.returncode == broken.returncode == usage.returncode == 3
    assert "the check has not run yet" in missing.stderr
    assert other.stderr.strip().endswith("holds no check result")
    assert broken.stderr.strip().endswith("is not JSON")
    assert usage.stderr.startswith("sentinel-dashboard status: error: argument --max-age")


def test_the_password_file_option_replaces_pgpassfile(fresh: Database, tmp_path: Path) -> None:
    # Without PGPASSWORD, libpq looks for the password in a file; the env's own points
    # nowhere, as the service user's does for root in the healthcheck role's sandbox.
    env = {key: value for key, value in fresh.env.items() if key != "PGPASSWORD"}
    env["PGPASSFILE"] = str(tmp_path / "not-there")
    given = tmp_path / "credential"
    given.write_text(f"*:*:*:*:{fresh.env['PGPASSWORD']}\n")
    given.chmod(0o600)
    systemctl_on_path(tmp_path / "unit", active=True)
    env["PATH"] = f"{tmp_path / 'unit' / 'bin'}{os.pathsep}{env['PATH']}"

    def check(*args: str) -> dict:
        done = subprocess.run(
            [str(CLI), "check", "--state-file", str(tmp_path / "state.json"),
             "--status-file", str(tmp_path / "status.json"), "--page", str(calm_page(tmp_path)),
             "--port", str(free_port()), "--max-restarts", "0", "--json", *args],
            env=env, capture_output=True, text=True, timeout=120, check=False)
        return {f["check"]: f for f in json.loads(done.stdout)["findings"]}

    without = check()
    with_file = check("--password-file", str(given))

    assert without["database"]["ok"] is False
    assert "no password supplied" in without["database"]["reason"]
    assert with_file["database"]["ok"] is True


def test_a_cycle_that_cannot_save_its_result_sends_nothing_and_keeps_the_mark(
    fresh: Database, health: Health, receiver: Receiver, tmp_path: Path
) -> None:
    mark = tmp_path / "check-failed"
    mark.touch()
    blocked = tmp_path / "state" / "status.json"
    blocked.mkdir(parents=True)
    config = config_for(tmp_path, health, receiver.url, failure_mark=mark)
    unit = FakeSystemctl(active=False, restart_fixes=False)

    with pytest.raises(watchdog.StateError, match=r"status\.json: Is a directory"):
        watchdog.cycle(config, systemctl=unit)
    blocked.rmdir()
    recovered = watchdog.cycle(config, systemctl=unit)

    # The failed cycle saved no state; the next one queues and sends each alert once.
    assert recovered.check_recovered is True
    assert [p["event"] for p in receiver.delivered()] == ["check_resolved", "incident"]
    assert not mark.exists()
