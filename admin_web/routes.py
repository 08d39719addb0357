"""Every URL of the admin site in one place."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

from admin_web.views import (
    audit,
    auth,
    bind_codes,
    business_types,
    callbacks,
    case_audits,
    cases,
    chat,
    dashboard,
    devices,
    health,
    imports,
    incidents,
    inspections,
    labels,
    language,
    list_exports,
    notifications,
    orgs,
    outbox,
    people,
    qualifications,
    review_reasons,
    search,
    sessions,
    special_approvals,
    staff,
    voids,
    vouchers,
)

STATIC_DIR = Path(__file__).parent / "static"


def _resource(app: web.Application, path: str, name: str, *, get: Handler | None = None,
              post: Handler | None = None) -> None:
    resource = app.router.add_resource(path, name=name)
    if get is not None:
        resource.add_route("GET", get)
    if post is not None:
        resource.add_route("POST", post)


def _actions(app: web.Application, base: str, prefix: str, views: dict[str, Handler]) -> None:
    """The actions posted to `{base}/{step}`, each named `{prefix}_{step}` (dashes as
    underscores)."""
    for step, view in views.items():
        _resource(app, f"{base}/{step}", f"{prefix}_{step.replace('-', '_')}", post=view)


def _editor(app: web.Application, base: str, name: str, key: str,
            views: tuple[Handler, Handler, Handler, Handler, Handler, Handler]) -> None:
    """A list kept in the admin: the list, the new form, one row with its edit form, and its
    toggle; `views` are list, new form, create, row page, update and toggle."""
    listing, new_form, create, page, update, set_active = views
    _resource(app, base, f"{name}s", get=listing)
    _resource(app, f"{base}/new", f"{name}_new", get=new_form, post=create)
    one = base + "/{" + key + ":\\d+}"
    _resource(app, one, name, get=page, post=update)
    _resource(app, f"{one}/active", f"{name}_active", post=set_active)


def setup_routes(app: web.Application) -> None:
    """Register the pages, the actions and the static files."""
    _resource(app, "/", "dashboard", get=dashboard.index)
    _resource(app, "/login", "login", get=auth.login_form, post=auth.login)
    _resource(app, "/logout", "logout", post=auth.logout)
    _resource(app, "/password", "password", get=auth.password_form, post=auth.change_password)
    _resource(app, "/language", "language", post=language.switch)
    _resource(app, "/sessions", "sessions", get=sessions.session_list)
    _resource(app, "/sessions/end-others", "sessions_end_others", post=sessions.end_others)
    _resource(app, "/sessions/{session_id:\\d+}/end", "session_end", post=sessions.end)
    _resource(app, "/orgs", "orgs", get=orgs.org_list, post=orgs.create)
    _resource(app, "/orgs/{org_id:\\d+}", "org", get=orgs.org_page, post=orgs.rename)
    _resource(app, "/staff", "staff_list", get=staff.staff_list)
    _resource(app, "/staff/new", "staff_new", get=staff.new_form, post=staff.create)
    _resource(app, "/staff/{staff_id:\\d+}", "staff", get=staff.staff_page, post=staff.update)
    _actions(app, "/staff/{staff_id:\\d+}", "staff", {
        "active": staff.set_active, "web-login": staff.grant_web_login, "unbind": staff.unbind,
        "grant-approve": staff.approve_grant, "grant-refuse": staff.refuse_grant,
        "wecom-account": staff.map_wecom_account, "notify-channel": staff.choose_notify_channel})
    _resource(app, "/staff/wecom-accounts", "staff_wecom_accounts", get=staff.accounts_page)
    _actions(app, "/staff/wecom-accounts", "staff_wecom_accounts", {
        "preview": staff.preview_accounts, "apply": staff.apply_accounts})
    _resource(app, "/duties", "duties", get=staff.duties_page)
    _resource(app, "/people/{staff_id:\\d+}", "person", get=people.person_page)
    _resource(app, "/staff/{staff_id:\\d+}/bind-code", "bind_code", post=bind_codes.issue)
    _editor(app, "/business-types", "business_type", "business_type_id", (
        business_types.business_type_list, business_types.new_form, business_types.create,
        business_types.business_type_page, business_types.update, business_types.set_active))
    _resource(app, "/cases", "cases", get=cases.queue)
    _resource(app, "/cases/claim", "cases_claim", post=cases.bulk_claim)
    case = "/cases/{case_id:\\d+}"
    _resource(app, case, "case", get=cases.case_page)
    _actions(app, case, "case", {
        "claim": cases.claim, "release": cases.release, "reveal": cases.reveal,
        "approve": cases.approve, "return": cases.return_case, "reject": cases.reject,
        "hold": cases.hold})
    photo = case + "/photos/{sha256:[0-9a-f]{64}}"
    _resource(app, photo, "case_photo", get=cases.photo)
    _resource(app, f"{photo}/original", "case_photo_original", get=cases.photo_original)
    _editor(app, "/review-reasons", "review_reason", "reason_id", (
        review_reasons.reason_list, review_reasons.new_form, review_reasons.create,
        review_reasons.reason_page, review_reasons.update, review_reasons.set_active))
    _resource(app, "/special-approvals", "special_approvals",
              get=special_approvals.special_list)
    _resource(app, "/special-approvals/{approval_id:\\d+}/decide", "special_approval_decide",
              post=special_approvals.decide)
    setup_ledger_routes(app)
    setup_voucher_routes(app)
    setup_inspection_routes(app)
    setup_callback_routes(app)
    setup_case_audit_routes(app)
    setup_export_routes(app)
    _resource(app, "/search", "search", get=search.results_page,
              post=search.results_page)
    _resource(app, "/customers/by-case/{case_id:\\d+}", "customer", get=search.customer_page)
    _resource(app, "/audit", "audit", get=audit.audit_log)
    _resource(app, "/outbox", "outbox", get=outbox.outbox_page)
    _resource(app, "/outbox/{message_id:\\d+}/retry", "outbox_retry", post=outbox.retry)
    _resource(app, "/notifications", "notifications", get=notifications.notification_list)
    _resource(app, "/notifications/status", "notifications_status", get=notifications.status)
    _resource(app, "/notifications/read-all", "notifications_read_all",
              post=notifications.mark_all_read)
    _resource(app, "/notifications/{notice_id:\\d+}/read", "notification_read",
              post=notifications.mark_read)
    _resource(app, "/chat", "chat", get=chat.chat_page, post=chat.post)
    _resource(app, "/chat/messages", "chat_messages", get=chat.new_messages)
    _resource(app, "/chat/photos/{sha256:[0-9a-f]{64}}", "chat_photo", get=chat.photo)
    _resource(app, "/healthz", "healthz", get=health.healthz)
    _resource(app, "/metrics", "metrics", get=health.metrics)
    app.router.add_static("/static", STATIC_DIR, name="static")


def setup_ledger_routes(app: web.Application) -> None:
    """The qualification and device ledgers and the incidents (Q2–Q7, D1–D3)."""
    _resource(app, "/qualifications", "qualifications", get=qualifications.qualification_list)
    ledger = "/staff/{staff_id:\\d+}/qualifications"
    _resource(app, ledger, "staff_qualifications", get=qualifications.ledger_page)
    _resource(app, f"{ledger}/exams", "qualification_exam", post=qualifications.add_exam)
    _actions(app, ledger, "qualification", {
        "training": qualifications.add_training, "counter": qualifications.add_counter,
        "grant": qualifications.grant})
    _actions(app, ledger + "/{qualification_id:\\d+}", "qualification", {
        "suspend": qualifications.suspend, "reinstate": qualifications.reinstate,
        "withdraw": qualifications.withdraw})
    _resource(app, "/staff/{staff_id:\\d+}/keep-account", "staff_keep_account",
              post=qualifications.keep_account)
    _resource(app, "/devices", "devices", get=devices.device_list, post=devices.register)
    device = "/devices/{device_id:\\d+}"
    _resource(app, "/devices/issue", "devices_issue", post=devices.issue_many)
    _resource(app, "/imports/{ledger:[a-z]+}", "ledger_import", get=imports.import_page)
    _actions(app, "/imports/{ledger:[a-z]+}", "ledger_import", {
        "preview": imports.preview, "commit": imports.commit})
    _resource(app, device, "device", get=devices.device_page)
    _actions(app, device, "device", {"issue": devices.issue} | {
        name: devices.transition(name) for name in devices.TRANSITIONS})
    _resource(app, "/incidents", "incidents", get=incidents.incident_list)
    _actions(app, "/incidents/{incident_id:\\d+}", "incident", {
        "close": incidents.close, "major": incidents.mark_major})
    _resource(app, "/incidents/close", "incidents_close", post=incidents.close_many)


def setup_voucher_routes(app: web.Application) -> None:
    """The voucher ledger: types, caps, receipts, boxes, journal, voids, reconciliation."""
    _resource(app, "/vouchers", "vouchers", get=vouchers.balance_page)
    _resource(app, "/vouchers/types", "voucher_types", get=vouchers.types_page,
              post=vouchers.define_type)
    _resource(app, "/vouchers/caps", "voucher_caps", post=vouchers.set_cap)
    _resource(app, "/vouchers/receive", "voucher_receive", get=vouchers.receive_page,
              post=vouchers.receive)
    _resource(app, "/vouchers/boxes", "voucher_box_open", post=vouchers.open_box)
    box = "/vouchers/boxes/{box_id:\\d+}"
    _resource(app, box, "voucher_box", get=vouchers.box_page)
    _actions(app, box, "voucher", {"allocate": vouchers.allocate,
                                   "return": vouchers.return_to_vault,
                                   "unfreeze": vouchers.unfreeze})
    _resource(app, "/vouchers/journal", "voucher_journal", get=vouchers.journal_page)
    _resource(app, "/vouchers/counts", "voucher_counts", get=vouchers.counts_page)
    _resource(app, "/vouchers/voids", "voucher_voids", get=voids.voids_page,
              post=voids.request_void)
    _actions(app, "/vouchers/voids/{void_id:\\d+}", "voucher_void", {
        "sign": voids.sign_void, "refuse": voids.refuse_void})
    _resource(app, "/vouchers/voids/sign", "voucher_voids_sign", post=voids.sign_voids)
    _resource(app, "/vouchers/mis-issues", "voucher_mis_issues", get=voids.mis_issues_page,
              post=voids.record_mis_issue)
    _actions(app, "/vouchers/mis-issues/{mis_issue_id:\\d+}", "voucher_mis_issue", {
        "recovered": voids.mis_issue_recovered,
        "unrecoverable": voids.mis_issue_unrecoverable})
    _resource(app, "/vouchers/reconciliation", "voucher_reconciliation",
              get=vouchers.report_page)
    _resource(app, "/vouchers/reconciliation/export", "voucher_reconciliation_export",
              post=vouchers.export_report)


def setup_case_audit_routes(app: web.Application) -> None:
    """The off-site audit: queue, finding form, draws and the error-rate report (K2, K3)."""
    _resource(app, "/case-audits", "case_audits", get=case_audits.queue)
    _resource(app, "/case-audits/{audit_id:\\d+}", "case_audit", get=case_audits.audit_page,
              post=case_audits.record)
    _resource(app, "/case-audits/draws/{draw_id:\\d+}", "case_audit_draw",
              get=case_audits.draw_page)
    _resource(app, "/case-audits/report", "case_audit_report", get=case_audits.report_page)
    _resource(app, "/case-audits/report/export", "case_audit_report_export",
              post=case_audits.export_report)


def setup_callback_routes(app: web.Application) -> None:
    """Customer callbacks: the queue, a callback with its script, the report (K1, S4)."""
    _resource(app, "/callbacks", "callbacks", get=callbacks.queue)
    _resource(app, "/callbacks/report", "callback_report", get=callbacks.report_page)
    _resource(app, "/callbacks/report/export", "callback_report_export",
              post=callbacks.export_report)
    callback = "/callbacks/{callback_id:\\d+}"
    _resource(app, callback, "callback", get=callbacks.callback_page)
    _actions(app, callback, "callback", {"reveal": callbacks.reveal, "calls": callbacks.record})


def setup_inspection_routes(app: web.Application) -> None:
    """Vault inspections: the month's list, completion rates, box history, one inspection
    with its start and count, surprise samples (V5, K3)."""
    _resource(app, "/inspections", "inspections", get=inspections.inspection_list)
    _resource(app, "/inspections/completion", "inspection_completion",
              get=inspections.completion_page)
    _resource(app, "/inspections/boxes/{box_id:\\d+}", "inspection_box",
              get=inspections.box_page)
    one = "/inspections/{inspection_id:\\d+}"
    _resource(app, one, "inspection", get=inspections.inspection_page)
    _actions(app, one, "inspection", {"start": inspections.start, "count": inspections.count})
    _resource(app, "/inspections/surprise", "inspection_surprise",
              get=inspections.surprise_page, post=inspections.launch)
    _resource(app, "/inspections/samples/{sample_id:\\d+}", "inspection_sample",
              get=inspections.sample_page)


def setup_export_routes(app: web.Application) -> None:
    """The lists exported with a purpose (S4), the printed QR labels and their scan."""
    for path, name, build in (
            ("/devices", "devices", list_exports.device_sheet),
            ("/staff", "staff", list_exports.staff_sheet),
            ("/qualifications", "qualifications", list_exports.qualification_sheet),
            ("/cases", "cases", list_exports.case_sheet),
            ("/incidents", "incidents", list_exports.incident_sheet),
            ("/vouchers/journal", "voucher_journal", list_exports.journal_sheet),
            ("/audit", "audit", list_exports.audit_sheet)):
        _resource(app, f"{path}/export", f"{name}_export",
                  post=list_exports.export_view(path, build))
    _resource(app, "/labels/tablets", "labels_tablets", get=labels.tablet_labels)
    _resource(app, "/labels/boxes", "labels_boxes", get=labels.box_labels)
    _resource(app, "/scan/{code:.+}", "scan", get=labels.scan)
