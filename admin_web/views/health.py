"""Liveness (/healthz) and Prometheus metrics (/metrics) for the operators."""

from __future__ import annotations

import hmac
import logging

from aiohttp import web
from tortoise import connections
from tortoise.exceptions import BaseORMException

from admin_web.state import CONFIG_KEY, REQUESTS_KEY
from domain.people import staff
from domain.platform import audit, chat_inbox, outbox
from domain.platform.actors import system_actor

log = logging.getLogger("fieldops.admin_web")
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
METRICS_ACTOR = system_actor("metrics")


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers `SELECT 1`, 503 otherwise."""
    try:
        await connections.get("default").execute_query("SELECT 1")
    except (BaseORMException, OSError) as exc:
        log.warning("health check: the database does not answer: %s", exc)
        return web.json_response({"status": "error"}, status=503)
    return web.json_response({"status": "ok"})


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _gauge(name: str, help_text: str, samples: list[tuple[str, int]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    return lines + [f"{name}{labels} {value}" for labels, value in samples]


async def metrics(request: web.Request) -> web.Response:
    """Outbox, staff and audit gauges and the request counter, Prometheus text format 0.0.4,
    for the bearer of the metrics token; not found when no token is set."""
    token = request.app[CONFIG_KEY].metrics_token
    if not token:
        raise web.HTTPNotFound
    sent = request.headers.get("Authorization", "").encode("utf-8")
    if not hmac.compare_digest(sent, f"Bearer {token}".encode()):
        return web.Response(status=401, text="401: Unauthorized\n",
                            headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    statuses = await outbox.status_counts()
    lines = _gauge("fieldops_outbox_messages",
                   "Outbox messages to send or see to by status (sent and expired: not counted).",
                   [(f'{{status="{_label(s)}"}}', n) for s, n in sorted(statuses.items())])
    lines += _gauge("fieldops_staff_active", "Active staff members.",
                    [("", await staff.count_staff(METRICS_ACTOR, active=True))])
    lines += _gauge("fieldops_audit_log_rows", "Rows in the audit log.",
                    [("", await audit.count_rows(METRICS_ACTOR))])
    inbox = await chat_inbox.status_counts()
    lines += _gauge("fieldops_chat_inbox_messages",
                    "Pushed chat messages (WeCom) still to handle or dead, by channel and status.",
                    [(f'{{channel="{_label(c)}",status="{_label(s)}"}}', n)
                     for (c, s), n in sorted(inbox.items())])
    lines += ["# HELP fieldops_http_requests_total HTTP requests handled by the admin site.",
              "# TYPE fieldops_http_requests_total counter"]
    lines += [
        f'fieldops_http_requests_total{{method="{_label(method)}",route="{_label(route)}",'
        f'status="{status}"}} {count}'
        for (method, route, status), count in request.app[REQUESTS_KEY].items()
    ]
    return web.Response(body=("\n".join(lines) + "\n").encode("utf-8"),
                        headers={"Content-Type": METRICS_CONTENT_TYPE})
