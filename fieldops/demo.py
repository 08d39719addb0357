"""Idempotent demo data: org tree, staff in every role, log-ins, bind codes, business types."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from domain.models import BusinessType, Org, PhotoKind, Role, Staff, StaffRole, WebCredential
from domain.services import auth, binding, business_types, orgs, review, staff
from domain.services.actors import actor_for, system_actor
from domain.services.bootstrap import create_first_sysadmin
from domain.services.business_types import BusinessTypeForm

DEMO_PASSWORD = "FieldOps-demo-2026"
ADMIN_USERNAME = "admin"

# (code, name, name_en, parent code)
ORG_TREE: tuple[tuple[str, str, str, str | None], ...] = (
    ("JS0000", "江苏省分行", "Jiangsu Provincial Branch", None),
    ("NJ0000", "南京分行", "Nanjing Branch", "JS0000"),
    ("NJ0100", "南京鼓楼支行", "Nanjing Gulou Sub-branch", "NJ0000"),
    ("NJ0101", "湖南路网点", "Hunan Road Outlet", "NJ0100"),
    ("NJ0102", "中山北路网点", "Zhongshan North Road Outlet", "NJ0100"),
    ("NJ0200", "南京江宁支行", "Nanjing Jiangning Sub-branch", "NJ0000"),
    ("NJ0201", "东山网点", "Dongshan Outlet", "NJ0200"),
    ("SZ0000", "苏州分行", "Suzhou Branch", "JS0000"),
    ("SZ0100", "苏州工业园区支行", "Suzhou Industrial Park Sub-branch", "SZ0000"),
    ("SZ0101", "星海街网点", "Xinghai Street Outlet", "SZ0100"),
)


@dataclass(frozen=True)
class DemoPerson:
    """One demo staff member: employee number, name, org code, roles, web user name."""

    employee_no: str
    name: str
    org_code: str
    roles: frozenset[Role]
    username: str = ""


PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson("E0002", "钱运营", "JS0000", frozenset({Role.OPS_ADMIN}), "ops"),
    DemoPerson("E0003", "孙科技", "JS0000", frozenset({Role.IT_ADMIN}), "it"),
    DemoPerson("E0004", "李稽核", "JS0000", frozenset({Role.AUDITOR}), "auditor"),
    DemoPerson("E0005", "周审核", "JS0000", frozenset({Role.REVIEWER}), "reviewer"),
    DemoPerson("E0010", "何复核", "JS0000", frozenset({Role.REVIEWER}), "reviewer2"),
    DemoPerson("E0006", "吴回访", "JS0000", frozenset({Role.CALLBACK_AGENT}), "callback"),
    DemoPerson("E0007", "郑业务", "NJ0000", frozenset({Role.BUSINESS_HEAD}), "bizhead"),
    DemoPerson("E0008", "王主管", "NJ0100", frozenset({Role.SUPERVISOR}), "supervisor"),
    DemoPerson("E0009", "冯主管", "SZ0100", frozenset({Role.SUPERVISOR}), "supervisor_sz"),
    DemoPerson("E0101", "陈展业", "NJ0101", frozenset({Role.FIELD_AGENT}), "agent1"),
    DemoPerson("E0102", "褚展业", "NJ0102", frozenset({Role.FIELD_AGENT}), "agent2"),
    DemoPerson("E0103", "卫展业", "NJ0201", frozenset({Role.FIELD_AGENT}), "agent3"),
    DemoPerson("E0104", "蒋展业", "SZ0101", frozenset({Role.FIELD_AGENT}), "agent4"),
)

ID_BOTH_SIDES = frozenset({PhotoKind.ID_FRONT, PhotoKind.ID_BACK, PhotoKind.ONSITE_WITH_AGENT})
# (code, voucher type issued, form): the four bank business types of the demo
BUSINESS_TYPES: tuple[tuple[str, str | None, BusinessTypeForm], ...] = (
    ("PERSONAL_INFO", None, BusinessTypeForm(
        "个人客户信息建立/修改", "Personal customer information create/change",
        ID_BOTH_SIDES | {PhotoKind.SIGNED_FORM}, review_sla_minutes=15, callback_rate=10)),
    ("DEBIT_CARD_OPEN", "DEBIT_CARD", BusinessTypeForm(
        "借记卡开户(实时发卡)", "Debit card opening with instant issue",
        ID_BOTH_SIDES | {PhotoKind.SIGNED_FORM}, review_sla_minutes=15, four_eyes=True,
        callback_rate=100)),
    ("SMS_ALERT", None, BusinessTypeForm(
        "短信签约", "SMS alert sign-up", business_types.MANDATORY_PHOTO_KINDS,
        review_sla_minutes=10, callback_rate=10)),
    ("MOBILE_TRANSFER", None, BusinessTypeForm(
        "手机银行转账签约", "Mobile banking transfer sign-up", ID_BOTH_SIDES,
        review_sla_minutes=15, four_eyes=True, callback_rate=100)),
)

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class DemoResult:
    """What the demo prints: web log-ins (field agents use the browser chat) and bind codes."""

    logins: list[tuple[str, str, str]]
    bind_codes: list[tuple[str, str, str]]


async def seed_demo(progress: Progress) -> DemoResult:
    """Create whatever of the demo data is missing and issue fresh bind codes."""
    total = len(ORG_TREE) + len(PEOPLE) + 1 + len(BUSINESS_TYPES)
    step = 0
    root = system_actor("demo")
    for code, name, name_en, parent_code in ORG_TREE:
        if not await Org.exists(code=code):
            parent = await Org.get(code=parent_code) if parent_code else None
            await orgs.create_org(root, code=code, name=name, name_en=name_en,
                                  parent_id=parent.id if parent else None)
        step += 1
        progress(step, total, code)
    if not await StaffRole.exists(role=Role.SYSADMIN):
        await create_first_sysadmin(
            username=ADMIN_USERNAME, password=DEMO_PASSWORD, name="赵系统",
            employee_no="E0001", org_code="JS0000", org_name="江苏省分行",
        )
    step += 1
    progress(step, total, ADMIN_USERNAME)
    logins = [(ADMIN_USERNAME, "赵系统", Role.SYSADMIN.value)]
    codes: list[tuple[str, str, str]] = []
    for person in PEOPLE:
        member = await _ensure_person(person)
        if person.username:
            logins.append((person.username, person.name, ",".join(sorted(person.roles))))
        if Role.FIELD_AGENT in person.roles:
            code, _ = await binding.issue_bind_code(root, member.id)
            codes.append((person.employee_no, person.name, code))
        step += 1
        progress(step, total, person.employee_no)
    for code, voucher_type_code, form in BUSINESS_TYPES:
        if not await BusinessType.exists(code=code):
            await business_types.create_business_type(
                root, code, form, voucher_type_code=voucher_type_code
            )
        step += 1
        progress(step, total, code)
    await review.seed_default_reasons()
    return DemoResult(logins=logins, bind_codes=codes)


async def _ensure_person(person: DemoPerson) -> Staff:
    root = system_actor("demo")
    member = await Staff.get_or_none(employee_no=person.employee_no)
    if member is None:
        org = await Org.get(code=person.org_code)
        member = await staff.create_staff(root, staff.StaffForm(
            employee_no=person.employee_no, name=person.name, org_id=org.id, roles=person.roles,
        ))
    if person.username and not await WebCredential.exists(staff=member):
        initial = await staff.grant_web_login(root, member.id, person.username)
        await auth.change_password(await actor_for(member), initial, DEMO_PASSWORD, DEMO_PASSWORD)
    return member
