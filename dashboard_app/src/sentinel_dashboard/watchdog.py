"""The health check behind `sentinel-dashboard check`: what users see, one cycle at a time.

A cycle looks at the service, the web server, the page and the data, and gives one
status. `down` (the service, the web server or the page fails) is what a restart can
mend, so the unit is restarted, at most `max_restarts` times per `restart_window`.
`degraded` (the database cannot be read, or its newest candle is stale) is not: the
pipeline that writes the candles is elsewhere, and restarting the dashboard would only
interrupt its readers.

A persistent state remembers the open incident, the recent restarts and the alerts
not delivered yet, so that an incident gives one alert when it starts and one when it
ends, whatever happens in between, and an alert that could not be sent is sent on a
later cycle instead of being lost.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
import requests

from sentinel_dashboard import alerts, db, market, settings

log = logging.getLogger(__name__)

OK, DEGRADED, DOWN = "ok", "degraded", "down"
EXIT_CODES = {OK: 0, DEGRADED: 1, DOWN: 2}
# The check itself could not run: its settings, or a state it cannot write.
EXIT_CANNOT_CHECK = 3

DEFAULT_UNIT = "sentinel-dashboard"
DEFAULT_PORT = 8501
DEFAULT_HTTP_TIMEOUT = 5
DEFAULT_PAGE_TIMEOUT = 30
DEFAULT_MAX_RESTARTS = 3
DEFAULT_RESTART_WINDOW = 3600
DEFAULT_STATE_DIR = Path("/var/lib/sentinel-check")
DEFAULT_STATE_FILE = DEFAULT_STATE_DIR / "state.json"
DEFAULT_STATUS_FILE = DEFAULT_STATE_DIR / "status.json"
# Starting an interpreter and importing Streamlit come on top of the page's own run.
PAGE_START_ALLOWANCE = 15
# Undelivered alerts kept while the webhook stays unreachable; the oldest go first.
MAX_PENDING = 50
SYSTEMCTL_TIMEOUT = 90


def installed_page() -> Path:
    return Path(str(resources.files("sentinel_dashboard").joinpath("page.py")))


@dataclass(frozen=True)
class CheckConfig:
    unit: str = DEFAULT_UNIT
    port: int = DEFAULT_PORT
    base_path: str = ""
    http_timeout: float = DEFAULT_HTTP_TIMEOUT
    page: Path = field(default_factory=installed_page)
    page_timeout: float = DEFAULT_PAGE_TIMEOUT
    symbol: str | None = None  # None: the symbol with the newest candle
    stale_after: int | None = None  # None: SENTINEL_STALE_AFTER's value
    dsn: str | None = None
    max_restarts: int = DEFAULT_MAX_RESTARTS
    restart_window: int = DEFAULT_RESTART_WINDOW
    state_file: Path = DEFAULT_STATE_FILE
    status_file: Path = DEFAULT_STATUS_FILE
    webhook_file: Path | None = None  # None: alerts go to the log only
    webhook_format: str = alerts.DEFAULT_FORMAT
    webhook_timeout: float = alerts.DEFAULT_TIMEOUT
    # Left by the alert sent when a cycle could not run (the unit's OnFailure=);
    # the next cycle that runs finds it and says the check runs again.
    failure_mark: Path | None = None

    @property
    def health_url(self) -> str:
        prefix = self.base_path.strip("/")
        path = f"/{prefix}/_stcore/health" if prefix else "/_stcore/health"
        return f"http://127.0.0.1:{self.port}{path}"


@dataclass(frozen=True)
class Finding:
    check: str  # service, web, page, database or freshness
    ok: bool
    reason: str
    # What a failure means: down (a restart may mend it) or degraded (it cannot).
    severity: str = DOWN


@dataclass(frozen=True)
class Result:
    status: str
    findings: list[Finding]
    checked_at: datetime
    host: str
    service: str

    def failures(self) -> list[Finding]:
        return [finding for finding in self.findings if not finding.ok]

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "checked_at": market.iso_utc(self.checked_at),
            "host": self.host,
            "service": self.service,
            "findings": [
                {"check": f.check, "ok": f.ok, "reason": f.reason} for f in self.findings
            ],
        }


Runner = Callable[[Sequence[str]], subprocess.CompletedProcess]


def run_systemctl(argv: Sequence[str]) -> subprocess.CompletedProcess:
    """The production runner: systemctl itself, never through a shell."""
    return subprocess.run(  # noqa: S603 - fixed program, arguments from settings
        ["systemctl", *argv],  # noqa: S607 - systemctl is where systemd puts it on PATH
        capture_output=True, text=True, timeout=SYSTEMCTL_TIMEOUT, check=False,
    )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def check_service(config: CheckConfig, systemctl: Runner) -> Finding:
    try:
        done = systemctl(["is-active", config.unit])
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Finding("service", False, f"cannot ask systemctl about {config.unit}: {exc}")
    state = done.stdout.strip() or "unknown"
    if state == "active":
        return Finding("service", True, f"{config.unit} is active")
    return Finding("service", False, f"{config.unit} is {state}, not active")


def check_web(config: CheckConfig) -> Finding:
    url = config.health_url
    try:
        answer = requests.get(url, timeout=config.http_timeout, allow_redirects=False)
    except requests.Timeout:
        return Finding("web", False, f"{url} did not answer within {config.http_timeout:g} s")
    except requests.RequestException as exc:
        return Finding("web", False, f"{url} did not answer: {alerts.cause(exc)}")
    if answer.status_code != 200 or answer.text.strip() != "ok":
        return Finding("web", False, f"{url} answered HTTP {answer.status_code}, not 200 ok")
    return Finding("web", True, f"{url} answered ok")


def check_page(config: CheckConfig) -> Finding:
    argv = [sys.executable, "-m", "sentinel_dashboard.pageprobe",
            str(config.page), str(config.page_timeout)]
    try:
        done = subprocess.run(  # noqa: S603 - this interpreter, a module of this package
            argv, capture_output=True, text=True, check=False,
            timeout=config.page_timeout + PAGE_START_ALLOWANCE,
        )
    except subprocess.TimeoutExpired:
        return Finding("page", False, f"the page did not finish within {config.page_timeout:g} s")
    try:
        report = json.loads(_last_line(done.stdout))
    except ValueError:
        # The probe itself could not start: Streamlit or the package fails to import.
        said = _last_line(done.stderr) or f"exit code {done.returncode}"
        return Finding("page", False, f"the page could not be run: {said}")
    if "failure" in report:
        return Finding("page", False, f"the page cannot run: {report['failure']}")
    if report["exceptions"]:
        first = _last_line(report["exceptions"][0]) or "an exception"
        more = len(report["exceptions"]) - 1
        tail = f" (and {more} more)" if more else ""
        return Finding("page", False, f"the page fails with {first}{tail}")
    if report["errors"]:
        # The page's own plain error: it ran, and the data checks say what is wrong.
        return Finding("page", True, f"the page runs and shows an error: {report['errors'][0]}")
    return Finding("page", True, "the page runs without errors")


def check_data(config: CheckConfig, now: datetime) -> list[Finding]:
    """The database's answer and the newest candle's age; failures are degraded."""
    def degraded(check: str, reason: str) -> list[Finding]:
        return [Finding(check, False, reason, severity=DEGRADED)]

    try:
        loaded = settings.load(config.dsn)
    except settings.SettingsError as exc:
        return degraded("database", f"the database settings cannot be used: {exc}")
    stale_after = config.stale_after or loaded.stale_after
    try:
        with db.connect(loaded) as conn:
            newest = market.newest_by_symbol(conn)
            symbol = config.symbol or (max(newest, key=newest.__getitem__) if newest else None)
            if symbol is None:
                return degraded("database", f"{loaded.target.describe()} holds no candles")
            figures = market.kpis(conn, symbol, now=now)
    except (db.DashboardError, psycopg.Error) as exc:
        # Unreachable, no schema, a failed query: db.explain says which, with no secret.
        return degraded("database", str(db.explain(exc, loaded)))

    reached = Finding("database", True, f"{loaded.target.describe()} answers",
                      severity=DEGRADED)
    fresh = market.freshness(figures, timedelta(seconds=stale_after), now=now)
    limit = alerts.duration_words(stale_after)
    newest_at = market.iso_utc(fresh.newest)
    age = alerts.duration_words(int(fresh.age.total_seconds()))
    if fresh.age > fresh.stale_after:
        reason = (f"stale data: the newest {symbol} candle ({newest_at}) is {age} old, "
                  f"more than {limit}")
    elif fresh.stale:
        silence = alerts.duration_words(int(fresh.arrival_age.total_seconds()))
        reason = (f"stale data: the newest {symbol} candle ({newest_at}) arrived {silence} "
                  f"ago, more than {limit}")
    else:
        return [reached, Finding("freshness", True, f"the newest {symbol} candle "
                                 f"({newest_at}) is fresh", severity=DEGRADED)]
    return [reached, Finding("freshness", False, reason, severity=DEGRADED)]


def check(config: CheckConfig, systemctl: Runner, now: datetime | None = None) -> Result:
    """Every check once; down wins over degraded."""
    now = now or datetime.now(UTC)
    findings = [check_service(config, systemctl), check_web(config), check_page(config),
                *check_data(config, now)]
    severities = {finding.severity for finding in findings if not finding.ok}
    status = DOWN if DOWN in severities else DEGRADED if severities else OK
    return Result(status=status, findings=findings, checked_at=now,
                  host=socket.gethostname(), service=config.unit)


# -- State ---------------------------------------------------------------------------


@dataclass
class State:
    incident: dict[str, Any] | None = None  # status, worst, started_at, reasons, action
    restarts: list[str] = field(default_factory=list)  # ISO times, oldest first
    pending: list[dict[str, Any]] = field(default_factory=list)  # alerts not yet sent


class StateError(Exception):
    """The state or status file cannot be written; the check cannot keep its promises."""


def load_state(path: Path) -> State:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return State(incident=raw.get("incident"), restarts=list(raw.get("restarts", [])),
                     pending=list(raw.get("pending", [])))
    except FileNotFoundError:
        return State()
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        # Starting afresh may repeat one incident alert; refusing would stop all checks.
        log.warning("state file %s unreadable (%s); starting with an empty state", path, exc)
        return State()


def write_json(path: Path, data: Any, mode: int = 0o600) -> None:
    """Write a JSON file atomically: readers see the old file or the new, never half."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            os.fchmod(handle, mode)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=2)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise StateError(f"cannot write {path}: {exc.strerror or exc}") from None


# -- One cycle -----------------------------------------------------------------------


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def restart(config: CheckConfig, state: State, systemctl: Runner, now: datetime) -> str:
    """Restart the unit unless the window's restarts are used up; say what was done."""
    since = now - timedelta(seconds=config.restart_window)
    state.restarts = [moment for moment in state.restarts if _parse(moment) > since]
    if len(state.restarts) >= config.max_restarts:
        return (f"restart limit reached ({config.max_restarts} in "
                f"{alerts.duration_words(config.restart_window)}), not restarting")
    # A failed attempt counts too, or a unit that cannot start would be retried forever.
    state.restarts.append(market.iso_utc(now))
    try:
        done = systemctl(["restart", config.unit])
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"restart of {config.unit} failed: {exc}"
    if done.returncode != 0:
        said = _last_line(done.stderr) or f"exit code {done.returncode}"
        return f"restart of {config.unit} failed: {said}"
    return f"restarted {config.unit}"


def _alert(event: str, result: Result, incident: dict[str, Any], action: str,
           resolved_at: datetime | None) -> dict[str, Any]:
    started = _parse(incident["started_at"])
    return {
        **result.as_json(),
        "event": event,
        "action": action,
        "started_at": incident["started_at"],
        "resolved_at": market.iso_utc(resolved_at) if resolved_at else None,
        "duration_seconds": int((resolved_at - started).total_seconds()) if resolved_at
        else None,
    }


def advance(state: State, result: Result, action: str) -> str | None:
    """Move the incident on by one result; queue the alert it deserves, if any.

    Only the start and the end of an incident are alerted. A move between degraded and
    down inside one incident is recorded in the state and the log, not sent: one
    incident, one page to whoever is on call.
    """
    now = result.checked_at
    reasons = [f"{f.check}: {f.reason}" for f in result.failures()]
    if result.status == OK:
        if state.incident is None:
            return None
        state.pending.append(_alert("resolved", result, state.incident, "none", now))
        state.incident = None
        event = "resolved"
    elif state.incident is None:
        state.incident = {"status": result.status, "worst": result.status,
                          "started_at": market.iso_utc(now), "reasons": reasons,
                          "action": action}
        state.pending.append(_alert("incident", result, state.incident, action, None))
        event = "incident"
    else:
        worst = DOWN if DOWN in (state.incident["worst"], result.status) else DEGRADED
        state.incident.update(status=result.status, worst=worst, reasons=reasons)
        return None
    if len(state.pending) > MAX_PENDING:
        dropped = len(state.pending) - MAX_PENDING
        log.warning("dropping the %d oldest undelivered alerts", dropped)
        del state.pending[:dropped]
    return event


def deliver(config: CheckConfig, state: State, post: alerts.Post) -> str | None:
    """Send the queued alerts in order; stop at the first failure and keep the rest."""
    if config.webhook_file is None:
        state.pending.clear()  # nowhere to send them; the log line has said it
        return None
    while state.pending:
        try:
            alerts.send(state.pending[0], url_file=config.webhook_file,
                        fmt=config.webhook_format, timeout=config.webhook_timeout, post=post)
        except alerts.AlertError as exc:
            return str(exc)
        state.pending.pop(0)
    return None


def note_check_recovered(config: CheckConfig, state: State, result: Result) -> bool:
    """Queue the resolution of an alert that said the check could not run, if one was sent.

    The mark's time is when that alert went out: the outage of the check began
    then at the latest.
    """
    mark = config.failure_mark
    if mark is None:
        return False
    try:
        alerted_at = datetime.fromtimestamp(mark.stat().st_mtime, UTC).replace(microsecond=0)
    except FileNotFoundError:
        return False
    failed = {"started_at": market.iso_utc(alerted_at)}
    state.pending.append(_alert("check_resolved", result, failed, "none", result.checked_at))
    return True


@dataclass(frozen=True)
class Outcome:
    result: Result
    action: str
    alert: str | None  # the incident event queued by this cycle
    pending: int  # alerts still waiting for the webhook
    delivery_error: str | None
    incident: dict[str, Any] | None
    check_recovered: bool = False  # a cycle had failed, and its alert gets a resolution

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.result.status]

    def as_json(self) -> dict[str, Any]:
        return {**self.result.as_json(), "action": self.action, "alert": self.alert,
                "pending_alerts": self.pending, "delivery_error": self.delivery_error,
                "incident": self.incident, "check_recovered": self.check_recovered}

    def log_line(self) -> str:
        """One greppable line: key=value pairs, reasons last."""
        failed = "; ".join(f"{f.check}: {f.reason}" for f in self.result.failures())
        parts = [f"status={self.result.status}", f"service={self.result.service}",
                 f"action={json.dumps(self.action)}", f"alert={self.alert or 'none'}",
                 f"pending={self.pending}"]
        if self.check_recovered:
            parts.append("check_recovered=yes")
        if self.delivery_error:
            parts.append(f"delivery_error={json.dumps(self.delivery_error)}")
        if failed:
            parts.append(f"failed={json.dumps(failed, ensure_ascii=False)}")
        return " ".join(parts)


def cycle(
    config: CheckConfig,
    *,
    systemctl: Runner = run_systemctl,
    post: alerts.Post = requests.post,
    now: datetime | None = None,
) -> Outcome:
    """One check, the restart it calls for, the alert it deserves, and the files."""
    state = load_state(config.state_file)
    result = check(config, systemctl, now)
    if result.status == DOWN:
        action = restart(config, state, systemctl, result.checked_at)
    else:
        action = "none"
    recovered = note_check_recovered(config, state, result)
    event = advance(state, result, action)
    if event and config.webhook_file is None:
        log.warning("%s alert not sent: no webhook file is set", event)

    def save(error: str | None) -> Outcome:
        done = Outcome(result=result, action=action, alert=event, pending=len(state.pending),
                       delivery_error=error, incident=state.incident,
                       check_recovered=recovered)
        # The result holds no secret, and monitoring scripts need not be root to read it.
        write_json(config.status_file, done.as_json(), mode=0o644)
        # The state last: when the status cannot be written, the next cycle starts
        # from the state before this one and queues its alerts once, not twice.
        write_json(config.state_file, asdict(state))
        return done

    # Both files are saved before anything is sent. A cycle that cannot save them
    # fails before it alerts, leaving the mark of a failed cycle in place (it would
    # otherwise say the check runs again, and fail); a crash after saving sends an
    # alert twice rather than never.
    save(None)
    if recovered:
        config.failure_mark.unlink(missing_ok=True)
    return save(deliver(config, state, post))


# -- Reading the last result -----------------------------------------------------------


class StatusError(Exception):
    """There is no last result to read: no status file, or one that is not a result."""


def read_status(path: Path) -> dict[str, Any]:
    """The status file's object, as the last cycle wrote it."""
    try:
        last = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StatusError(f"no result at {path}: the check has not run yet") from None
    except OSError as exc:
        raise StatusError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError:
        raise StatusError(f"{path} is not JSON") from None
    if (not isinstance(last, dict) or last.get("status") not in EXIT_CODES
            or not isinstance(last.get("checked_at"), str)
            or not isinstance(last.get("findings"), list)):
        raise StatusError(f"{path} holds no check result")
    try:
        _parse(last["checked_at"])
    except ValueError:
        raise StatusError(f"{path} holds no check result") from None
    return last


def status_age(last: dict[str, Any], now: datetime | None = None) -> timedelta:
    return (now or datetime.now(UTC)) - _parse(last["checked_at"])


def describe_status(last: dict[str, Any], age: timedelta) -> list[str]:
    """The last result in a few lines for people: what failed, what was done, what waits."""
    ago = alerts.duration_words(int(age.total_seconds()))
    lines = [f"{last['status']}: {last.get('service', '?')} on {last.get('host', '?')}, "
             f"checked {last['checked_at']} ({ago} ago)"]
    lines += [f"- {f.get('check')}: {f.get('reason')}" for f in last["findings"]
              if not f.get("ok")]
    if last.get("action", "none") != "none":
        lines.append(f"action: {last['action']}")
    incident = last.get("incident")
    if isinstance(incident, dict):
        lines.append(f"incident since {incident.get('started_at')} "
                     f"(worst {incident.get('worst')})")
    if last.get("pending_alerts"):
        waiting = f"alerts waiting for the webhook: {last['pending_alerts']}"
        if last.get("delivery_error"):
            waiting += f" ({last['delivery_error']})"
        lines.append(waiting)
    return lines
