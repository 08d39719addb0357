"""Idempotent demo data: org tree, staff in every role, log-ins, bind codes, business types,
the qualification and device ledgers of the field agents, the voucher ledger (vault
stock, allocated tail boxes, one pending void, one mis-issued card being recovered) and,
given a capture context, two approved cases that issued a card each."""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, time, timedelta
from decimal import Decimal

from PIL import Image
from tortoise.transactions import in_transaction

from domain.cases import business_types, cases, review, review_photos, review_reasons
from domain.cases.business_types import BusinessTypeForm
from domain.cases.capture_gate import CaptureContext, WorkingHours
from domain.ledgers import devices, incidents, qualification_basis, qualifications
from domain.models import (
    BusinessType,
    Case,
    CounterQualification,
    Device,
    ExamResult,
    MisIssue,
    Org,
    PhotoKind,
    Qualification,
    QualificationBasis,
    QualificationEvent,
    QualificationEventKind,
    Role,
    Staff,
    StaffRole,
    TrainingRecord,
    VoidRequest,
    Voucher,
    VoucherCap,
    VoucherMovement,
    VoucherState,
    VoucherType,
    WebCredential,
)
from domain.people import auth, binding, orgs, staff
from domain.people.bootstrap import create_first_sysadmin
from domain.platform import webchat
from domain.platform.actors import Actor, actor_for, system_actor
from domain.platform.calendar import Calendar
from domain.platform.clock import utcnow
from domain.platform.identity import resident_id_check_digit
from domain.vouchers import mis_issues, tail_boxes, voids, voucher_stock
from domain.vouchers.voucher_stock import VoucherTypeForm
from fieldops.demo_history import STEPS as HISTORY_STEPS
from fieldops.demo_history import seed_history

DEMO_PASSWORD = "FieldOps-demo-2026"
ADMIN_USERNAME = "admin"
DEMO_CHANNEL = "demo"  # the channel the seeded pledge confirmations name

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
    DemoPerson("E0105", "沈展业", "SZ0101", frozenset({Role.FIELD_AGENT}), "agent5"),
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



@dataclass(frozen=True)
class DemoTablet:
    """One demo tablet: asset tag, serial, IMEI, outlet code; reported lost by its holder."""

    asset_tag: str
    serial: str
    imei: str
    org_code: str
    lost: bool = False


@dataclass(frozen=True)
class DemoLedger:
    """The qualification and tablets of one demo field agent, suspended when a reason is set."""

    employee_no: str
    basis: QualificationBasis
    tablets: tuple[DemoTablet, ...]
    suspension: str = ""


TRAINED = QualificationBasis.TRAINING_AND_EXAM
LEDGERS: tuple[DemoLedger, ...] = (
    DemoLedger("E0101", TRAINED, (
        DemoTablet("PAD-NJ0101-01", "HWMP2025NJ010101", "861234050101016", "NJ0101"),)),
    DemoLedger("E0102", TRAINED, (
        DemoTablet("PAD-NJ0102-01", "HWMP2025NJ010201", "861234050102014", "NJ0102"),)),
    DemoLedger("E0103", QualificationBasis.COUNTER, (
        DemoTablet("PAD-NJ0201-01", "HWMP2025NJ020101", "861234050201014", "NJ0201"),)),
    DemoLedger("E0104", TRAINED, (
        DemoTablet("PAD-SZ0101-01", "HWMP2025SZ010101", "861234051101015", "SZ0101"),)),
    DemoLedger("E0105", TRAINED, (
        DemoTablet("PAD-SZ0101-02", "HWMP2025SZ010102", "861234051101023", "SZ0101",
                   lost=True),),
               suspension="外出展业途中遗失平板，整改完成前暂停上岗资格"),
)
TABLET_MODEL = "华为 MatePad 11"
TRAINING = qualification_basis.TrainingForm("移动运营业务培训", date(2026, 3, 9), Decimal("16.0"),
                                             "钱运营")
EXAM = qualification_basis.ExamForm("移动运营上岗考试", date(2026, 3, 20), Decimal("88"),
                                    Decimal("80"))

# (code, form): the controlled vouchers of the demo bank (V1)
VOUCHER_TYPES: tuple[tuple[str, VoucherTypeForm], ...] = (
    ("DEBIT_CARD", VoucherTypeForm("借记卡", "Debit card", r"\d{19}", "luhn")),
    ("USB_KEY", VoucherTypeForm("网银盾", "E-banking USB key", r"UK\d{8}", "none")),
)


@dataclass(frozen=True)
class DemoStock:
    """Serials of one type received into the vault of one outlet: prefix, first number, count."""

    org_code: str
    type_code: str
    prefix: str
    first: int
    count: int


VAULT_STOCK: tuple[DemoStock, ...] = (
    DemoStock("NJ0101", "DEBIT_CARD", "6222021001", 10_000_001, 30),
    DemoStock("NJ0201", "USB_KEY", "UK", 10_010_001, 10),
    DemoStock("NJ0102", "DEBIT_CARD", "6222021001", 10_000_101, 20),
    DemoStock("SZ0101", "DEBIT_CARD", "6222023001", 20_000_001, 20),
)
# (tablet asset tag, voucher type code, count): one allocation per box from the outlet
# vault; a second one would need a day-end count first (V1, V2, V4)
BOX_ALLOCATIONS: tuple[tuple[str, str, int], ...] = (
    ("PAD-NJ0101-01", "DEBIT_CARD", 10),
    ("PAD-NJ0201-01", "USB_KEY", 5),
    ("PAD-NJ0102-01", "DEBIT_CARD", 8),
    ("PAD-SZ0101-01", "DEBIT_CARD", 6),
)
BOX_CAPS = {"DEBIT_CARD": 30, "USB_KEY": 10}  # per outlet holding tail boxes (V2)
LOST_CARD_HOLDER = "E0102"  # reports one card of his box lost: the pending void (V6)
MIS_ISSUE_BOX = "PAD-SZ0101-01"  # one card of this box was handed out by mistake (V6)
VOUCHER_STEPS = len(VOUCHER_TYPES) + len(VAULT_STOCK) + len(BOX_ALLOCATIONS) + 2


@dataclass(frozen=True)
class DemoCustomer:
    """One customer of a demo card opening by agent1: name, resident ID number, mobile."""

    name: str
    id_number: str
    mobile: str


_SECOND_ID_BODY = "32010619850615123"
CARD_AGENT = "E0101"  # agent1 opens the demo cards from his own tail box (V1)
CARD_BUSINESS_TYPE = "DEBIT_CARD_OPEN"
REVIEWERS = ("E0005", "E0010")  # reviewer, then reviewer2: the four-eyes approval (C6, S2)
DEMO_CUSTOMERS: tuple[DemoCustomer, ...] = (
    DemoCustomer("张晓明", "11010519491231002X", "13800138000"),
    DemoCustomer("李秀英", _SECOND_ID_BODY + resident_id_check_digit(_SECOND_ID_BODY),
                 "13900139000"),
)
ALL_HOURS = WorkingHours(weekdays=frozenset(range(7)), start=time.min, end=time.max)
PHOTO_SIZE = (1200, 900)
_MID_GREY = bytes(40 + value * 176 // 256 for value in range(256))

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class DemoResult:
    """What the demo prints: web log-ins (field agents use the browser chat) and bind codes."""

    logins: list[tuple[str, str, str]]
    bind_codes: list[tuple[str, str, str]]


async def seed_demo(progress: Progress, ctx: CaptureContext | None = None,
                    calendar: Calendar | None = None) -> DemoResult:
    """Create whatever of the demo data is missing and issue fresh bind codes; with a
    capture context also the approved demo card openings (V1) and a month of history."""
    total = (len(ORG_TREE) + len(PEOPLE) + 1 + len(BUSINESS_TYPES) + len(LEDGERS)
             + VOUCHER_STEPS + len(DEMO_CUSTOMERS) + (HISTORY_STEPS if ctx else 0))
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
            # the walk-through starts at capture: the demo agents confirmed the pledge (C10)
            await binding.confirm_pledge(member.id, DEMO_CHANNEL, binding.PLEDGE_VERSION)
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
    await review_reasons.seed_default_reasons()
    ops = await actor_for(await Staff.get(employee_no="E0002"))
    it = await actor_for(await Staff.get(employee_no="E0003"))
    for ledger in LEDGERS:
        await _ensure_ledger(ledger, ops, it)
        step += 1
        progress(step, total, ledger.employee_no)
    for label in await _seed_vouchers(ops):
        step += 1
        progress(step, total, label)
    for index, customer in enumerate(DEMO_CUSTOMERS):
        if ctx is not None:
            await _ensure_card_case(customer, index, replace(ctx, hours=ALL_HOURS))
        step += 1
        progress(step, total, customer.mobile)
    if ctx is not None:
        def history_step(label: str) -> None:
            nonlocal step
            step += 1
            progress(step, total, label)

        await seed_history(replace(ctx, hours=ALL_HOURS), calendar or Calendar(zone=ctx.zone),
                           demo_photo, history_step)
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


async def _ensure_ledger(ledger: DemoLedger, ops: Actor, it: Actor) -> None:
    """Qualify one agent on his basis, hand him his tablets, lose and suspend as the demo says."""
    agent = await Staff.get(employee_no=ledger.employee_no)
    if not await Qualification.exists(staff=agent):
        basis = await _ensure_basis(agent, ledger.basis, ops)
        type_ids = await BusinessType.filter(code__in=[code for code, _, _ in BUSINESS_TYPES]
                                             ).order_by("code").values_list("id", flat=True)
        await qualifications.grant(ops, agent.id, list(type_ids), ledger.basis, **basis)
    for tablet in ledger.tablets:
        if not await Device.exists(asset_tag=tablet.asset_tag):
            await _hand_over(tablet, agent, it)
    suspended = await QualificationEvent.exists(qualification__staff=agent,
                                                kind=QualificationEventKind.SUSPENDED)
    if ledger.suspension and not suspended:
        await qualifications.suspend_all_for_staff(ops, agent.id, ledger.suspension)


async def _ensure_basis(agent: Staff, basis: QualificationBasis, ops: Actor
                        ) -> dict[str, int]:
    """The counter qualification, or a training record and a passed exam, of a demo agent."""
    if basis == QualificationBasis.COUNTER:
        if not await CounterQualification.exists(staff=agent):
            await qualification_basis.record_counter_qualification(
                ops, agent.id, f"GT-{agent.employee_no}", date(2019, 7, 1))
        return {}
    training = await TrainingRecord.filter(staff=agent).first()
    training = training or await qualification_basis.record_training(ops, agent.id, TRAINING)
    exam = await ExamResult.filter(staff=agent).first()
    exam = exam or await qualification_basis.record_exam(ops, agent.id, EXAM)
    return {"training_id": training.id, "exam_id": exam.id}


async def _hand_over(tablet: DemoTablet, agent: Staff, it: Actor) -> None:
    """Register a tablet, issue it to the agent who confirms receipt; report it lost if so."""
    org = await Org.get(code=tablet.org_code)
    device = await devices.register_device(it, devices.DeviceForm(
        asset_tag=tablet.asset_tag, serial=tablet.serial, imei=tablet.imei, model=TABLET_MODEL,
        purchase_date=date(2025, 12, 1), org_id=org.id))
    await devices.issue_device(it, device.id, agent.id, "展业领用")
    holder = await actor_for(agent)
    await devices.confirm_receipt(holder, device.id)
    if tablet.lost:
        await incidents.report_loss(holder, incidents.LossReport(
            what="device", item=tablet.asset_tag, occurred_at=utcnow() - timedelta(hours=2),
            place="星海街地铁站", description="外出展业途中平板遗失在地铁站"))


def luhn_complete(body: str) -> str:
    """The body with its Luhn check digit appended, as bank card numbers carry."""
    total = 0
    for index, digit in enumerate(reversed(body)):
        value = int(digit) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return body + str((10 - total % 10) % 10)


def stock_serials(stock: DemoStock) -> list[str]:
    """The serials of one demo receipt; card numbers carry their Luhn check digit."""
    numbers = (f"{stock.prefix}{stock.first + offset:08d}" for offset in range(stock.count))
    if stock.type_code == "DEBIT_CARD":
        return [luhn_complete(number) for number in numbers]
    return list(numbers)


async def _seed_vouchers(ops: Actor) -> list[str]:
    """Voucher types, outlet caps, outlet vault stock, allocated tail boxes and one pending
    void; each part only when missing. Returns one progress label per step."""
    labels = []
    for code, form in VOUCHER_TYPES:
        if not await VoucherType.exists(code=code):
            await voucher_stock.define_voucher_type(ops, code, form)
        labels.append(code)
    types = {row.code: row for row in await VoucherType.all()}
    for stock in VAULT_STOCK:
        serials = stock_serials(stock)
        if not await Voucher.exists(voucher_type=types[stock.type_code], serial=serials[0]):
            org = await Org.get(code=stock.org_code)
            await voucher_stock.receive_serials(ops, org.id, types[stock.type_code].id, serials)
        labels.append(f"{stock.org_code} {stock.type_code}")
    for asset_tag, type_code, count in BOX_ALLOCATIONS:
        await _ensure_allocation(ops, asset_tag, types[type_code], count)
        labels.append(f"{asset_tag} {type_code}")
    if not await VoidRequest.exists():
        await _lose_one_card(types["DEBIT_CARD"])
    labels.append("void")
    if not await MisIssue.exists():
        await _mis_issue_one_card(ops, types["DEBIT_CARD"])
    labels.append("mis-issue")
    return labels


async def _ensure_allocation(ops: Actor, asset_tag: str, voucher_type: VoucherType,
                             count: int) -> None:
    """Cap the outlet and allocate a count of the type to the tablet's tail box, once."""
    device = await Device.get(asset_tag=asset_tag)
    box = await tail_boxes.box_for_device(device.id)
    if not await VoucherCap.exists(org_id=box.org_id, voucher_type=voucher_type):
        await voucher_stock.set_cap(ops, box.org_id, voucher_type.id, BOX_CAPS[voucher_type.code])
    allocated = await VoucherMovement.exists(to_box_id=box.id,
                                             voucher_type_id=voucher_type.id)
    if not allocated:
        await voucher_stock.allocate(ops, box.id, voucher_type.id, count=count)


async def _lose_one_card(card: VoucherType) -> None:
    """A field agent reports one card of his box lost: it waits for two signatures (V6)."""
    agent = await Staff.get(employee_no=LOST_CARD_HOLDER)
    device = await Device.get(holder=agent)
    lost = await Voucher.filter(box__device=device, voucher_type=card).order_by("-serial").first()
    if lost is not None:
        await voids.report_lost_serials(await actor_for(agent), [lost.serial],
                                        "外出展业途中遗失借记卡一张")


async def _mis_issue_one_card(ops: Actor, card: VoucherType) -> None:
    """Operations records a card handed to a customer by mistake, being recovered (V6)."""
    box = await tail_boxes.box_for_device((await Device.get(asset_tag=MIS_ISSUE_BOX)).id)
    wrong = await Voucher.filter(box_id=box.id, voucher_type=card,
                                 state=VoucherState.IN_BOX).order_by("serial").first()
    if wrong is not None:
        await mis_issues.record_mis_issue(ops, wrong.serial, "开卡时误将另一张卡交给客户")


def demo_photo(seed: int) -> bytes:
    """A sharp, mid-grey 1200x900 JPEG of noise, the same for the same seed (C7)."""
    pixels = random.Random(seed).randbytes(PHOTO_SIZE[0] * PHOTO_SIZE[1]).translate(_MID_GREY)
    out = io.BytesIO()
    Image.frombytes("L", PHOTO_SIZE, pixels).convert("RGB").save(out, format="JPEG", quality=90)
    return out.getvalue()


async def _ensure_card_case(customer: DemoCustomer, index: int, ctx: CaptureContext) -> None:
    """agent1 captures a card opening for the customer, once; both reviewers approve it,
    which issues the card of his box reserved for it (C3, C6, V1)."""
    agent = await Staff.get(employee_no=CARD_AGENT)
    if await Case.exists(agent=agent, id_number_hash=ctx.cipher.lookup_hash(customer.id_number)):
        return
    await webchat.bind_web_chat(agent.id)
    business_type = await BusinessType.get(code=CARD_BUSINESS_TYPE)
    card = await Voucher.filter(box__device__holder=agent, state=VoucherState.IN_BOX,
                                voucher_type__code="DEBIT_CARD").order_by("serial").first()
    if card is None:
        return
    capturer = await actor_for(agent)
    async with in_transaction():
        case = await cases.start_draft(capturer, business_type.id, ctx)
        await cases.set_customer(capturer, case.id, customer.name, customer.id_number,
                                 customer.mobile, ctx)
        for number, kind in enumerate(sorted(business_type.required_photo_kinds)):
            await cases.add_photo(capturer, case.id, PhotoKind(kind),
                                  demo_photo(index * 10 + number), f"{kind}.jpg", "image/jpeg",
                                  ctx)
        await cases.set_voucher(capturer, case.id, card.serial, ctx)
        await cases.confirm_risk_hint(capturer, case.id)
        await cases.submit(capturer, case.id, ctx)
        for employee_no in REVIEWERS:
            reviewer = await actor_for(await Staff.get(employee_no=employee_no))
            await review_photos.note_photos_viewed(reviewer, await review.claim(reviewer, case.id))
            await review.approve(reviewer, case.id, ctx)
