"""A bulk action in a real headless Chromium: incidents ticked and closed together, one closed
meanwhile by someone else, a result per incident, and a refresh that sends nothing again."""

from __future__ import annotations

from aiohttp.test_utils import TestServer

from admin_web.app import init_app
from domain.ledgers import incidents
from domain.ledgers.incidents import LossReport
from domain.models import AuditLog, Incident, IncidentStatus, Role
from domain.platform import clock
from domain.platform.actors import actor_for
from tests.admin_support import CONFIG, PASSWORD
from tests.browser_support import browser_page
from tests.factories import ROOT, org_tree, person, web_user


async def test_incidents_closed_together_in_the_browser(database_url: str, chromium: str
                                                        ) -> None:
    ids = await org_tree()
    agent, _ = await person(ids["outlet_a"], Role.FIELD_AGENT, no="F001", name="张三")
    reporter = await actor_for(agent)
    reported = [await incidents.report_loss(reporter, LossReport(
        "papers", f"客户资料 {n}", clock.utcnow(), "地铁站", "遗失")) for n in (1, 2)]
    _, username = await web_user(ids["province"], Role.OPS_ADMIN, no="O001")
    server = TestServer(init_app(CONFIG), host="127.0.0.1")
    await server.start_server()
    try:
        async with browser_page(chromium) as page:
            await page.goto(str(server.make_url("/login")))
            await page.fill("input[name=username]", username)
            await page.fill("input[name=password]", PASSWORD)
            await page.click("main form button.primary")
            await page.wait_for_url(str(server.make_url("/")))
            await page.goto(str(server.make_url("/incidents")))
            for row in reported:
                await page.check(f"#incident-{row.id} input[name=ids]")
            await incidents.close_incident(ROOT, reported[1].id, "他人已处理")
            await page.fill("#close-incidents textarea[name=resolution]", "已重新培训")
            await page.click("#close-incidents button.primary")
            await page.wait_for_selector(".bulk-results")
            outcome = {await item.get_attribute("class"): await item.inner_text()
                       for item in await page.query_selector_all(".bulk-item")}
            await page.reload()
            after_refresh = await page.query_selector(".bulk-results")
    finally:
        await server.close()
    assert set(outcome) == {"bulk-item done", "bulk-item refused"}
    assert f"#{reported[0].id}" in outcome["bulk-item done"]
    assert f"#{reported[1].id}" in outcome["bulk-item refused"]
    assert after_refresh is None
    assert (await Incident.get(id=reported[0].id)).resolution == "已重新培训"
    assert (await Incident.get(id=reported[1].id)).resolution == "他人已处理"
    assert {row.status for row in await Incident.all()} == {IncidentStatus.CLOSED}
    assert await AuditLog.filter(action="incident.closed").count() == 2
