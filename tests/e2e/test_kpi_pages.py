"""Results and KPIs in a real browser (issue 18, item 8): a demo journey's report shows the uplift the API
computes for the same period, its tables download as CSV with the right header and rows; the campaign,
service and branch KPI pages draw, a branch manager's service KPIs hold only their branch; every page in both
languages."""

from __future__ import annotations

import csv
import io
from typing import Any

from console_support import Session, api_client

JOURNEY = "fund_autoinvest"  # a demo journey with a hold-out
UNITS = {"zh-CN": "个百分点", "en-US": "pp"}


def _points(value: float | None, unit: str) -> str:
    """The console's formatPoints: a signed difference of rates in percentage points, two decimals."""
    if value is None:
        return "—"
    return f"{'+' if value > 0 else ''}{value * 100:.2f} {unit}"


def _percent(value: float | None) -> str:
    """The console's formatPercent: one decimal, “—” for no value."""
    return "—" if value is None else f"{value * 100:.1f}%"


def _download(session: Session, button: str) -> list[list[str]]:
    """Click a CSV button and read the file it offers (UTF-8 with a BOM)."""
    with session.page.expect_download() as caught:
        session.page.click(button)
    raw = caught.value.path().read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "a BOM, so that Excel reads Chinese right"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_a_journey_report_shows_the_apis_uplift_and_downloads_its_tables(
    session: Session, console_url: str
) -> None:
    api = api_client(console_url, "ops.chen")
    period = api.get("/api/v1/kpis/campaigns").json()
    first, last = period["start"], period["end"]
    report = api.get(f"/api/v1/journeys/{JOURNEY}/report", params={"from": first, "to": last}).json()
    assert report["groups"].get("holdout"), "the demo journey has a hold-out in the last 30 days"

    session.sign_in("ops.chen")
    page = session.page
    session.open("/journeys")
    page.click(f"[data-testid=journey-report-{JOURNEY}]")
    page.wait_for_selector("[data-testid=journey-report-page] [data-testid=report-uplift]")
    session.open(f"/journeys/{JOURNEY}/report?from={first}&to={last}")
    page.wait_for_selector("[data-testid=chart-report-funnel] canvas")
    uplift, unit = report["uplift"], UNITS[session.locale]
    assert page.inner_text("[data-testid=uplift-absolute]") == _points(uplift["absolute"], unit)
    assert page.inner_text("[data-testid=uplift-relative]") == _percent(uplift["relative"])
    ci = page.inner_text("[data-testid=uplift-ci]")
    assert ci == f"[{_points(uplift['ci_low'], unit)}, {_points(uplift['ci_high'], unit)}]"
    p_shown = page.inner_text("[data-testid=uplift-p]")
    p = uplift["p_value"]
    assert p_shown == ("—" if p is None else "< 0.001" if p < 0.001 else f"{p:.3f}")
    sentence = page.inner_text("[data-testid=uplift-verdict]")
    # The page's rule: the p-value when there is one, else whether the interval leaves out zero.
    low, high = uplift["ci_low"], uplift["ci_high"]
    if p is not None:
        significant = p < 0.05
    else:
        significant = low is not None and high is not None and (low > 0 or high < 0)
    assert ("不显著" not in sentence) == significant, sentence

    groups = _download(session, "[data-testid=csv-groups]")
    assert groups[0][:3] == ["group", "entered", "targeted"]
    assert len(groups) - 1 == len(report["groups"])
    treated = next(r for r in groups[1:] if r[0] == "treated")
    assert int(treated[1]) == report["groups"]["treated"]["entered"]
    days = _download(session, "[data-testid=csv-by-day]")
    assert days[0][0] == "day"
    assert len(days) - 1 == len(report["by_day"])
    session.shot("journey-report")

    session.open(f"/journeys/{JOURNEY}/live")
    page.click("[data-testid=journey-live-report]")
    page.wait_for_selector("[data-testid=journey-report-page] [data-testid=report-uplift]")


def test_the_campaign_kpis_list_the_apis_journeys_and_download(session: Session, console_url: str) -> None:
    kpis = api_client(console_url, "ops.chen").get("/api/v1/kpis/campaigns").json()
    assert kpis["rows"], "the demo's journeys ran in the last 30 days"
    session.sign_in("ops.chen")
    page = session.page
    session.open("/kpi/campaigns")
    page.wait_for_selector("[data-testid=chart-campaign-uplift] canvas")
    page.wait_for_selector("[data-testid=kpi-campaigns-table] tbody tr.ant-table-row")
    assert page.locator("[data-testid=kpi-campaigns-table] tbody tr.ant-table-row").count() == len(
        kpis["rows"]
    )
    table = _download(session, "[data-testid=csv-campaigns]")
    assert table[0][:3] == ["name", "title", "status"]
    assert [r[0] for r in table[1:]] == [r["name"] for r in kpis["rows"]]


def test_a_branch_manager_sees_the_service_kpis_of_their_branch(session: Session, console_url: str) -> None:
    api = api_client(console_url, "mgr.zhao")
    mine = api.get("/api/v1/kpis/service", params={"group_by": "branch"}).json()
    assert [r["group"] for r in mine["rows"]] in ([], ["B1"])
    session.sign_in("mgr.zhao")
    page = session.page
    session.open("/kpi/service?by=branch")
    page.wait_for_selector("[data-testid=kpi-service-page]")
    rows = _wait_rows(session, "[data-testid=kpi-service-table]", len(mine["rows"]))
    if mine["rows"]:
        assert rows.first.locator("td").first.inner_text() == "B1"
    table = _download(session, "[data-testid=csv-service]")
    assert table[0][0] == "branch"
    assert len(table) - 1 == len(mine["rows"]) + 1  # the rows and the total
    assert table[-1][0] == "total"
    assert int(table[-1][3]) == mine["total"]["dispatched"]


def _wait_rows(session: Session, table: str, count: int) -> Any:
    """A table's data rows once it shows `count` of them (an empty table shows its placeholder)."""
    if count == 0:
        session.page.wait_for_selector(f"{table} .ant-table-placeholder")
    else:
        session.page.wait_for_function(
            f"() => document.querySelectorAll('{table} tbody tr.ant-table-row').length === {count}"
        )
    return session.page.locator(f"{table} tbody tr.ant-table-row")


PAGES = (
    ("/kpi/campaigns", "[data-testid=chart-campaign-uplift] canvas"),
    ("/kpi/service", "[data-testid=chart-service-rates] canvas"),
    ("/kpi/service?by=rule", "[data-testid=chart-service-rates] canvas"),
    ("/kpi/branches", "[data-testid=chart-branch-ranking] canvas"),
    (f"/journeys/{JOURNEY}/report", "[data-testid=chart-report-by-day] canvas"),
)


def test_the_kpi_pages_draw_in_both_languages(any_language: Session) -> None:
    session = any_language
    session.sign_in("ops.chen")
    for path, ready in PAGES:
        session.open(path)
        session.page.wait_for_selector(ready)
        name = path.replace("/", "-").replace("?by=", "-")
        session.shot("page" + name)
    other = _manager(session)
    other.open("/kpi/branches")
    other.page.wait_for_selector("[data-testid=kpi-branches-page] .ant-table")
    other.shot("page-kpi-branches-manager")
    other.open(f"/journeys/{JOURNEY}/report")
    other.page.wait_for_selector("[data-testid=report-uplift]")
    other.page.wait_for_selector("[data-testid=chart-report-funnel] canvas")
    other.shot("journey-report-manager")
    # The canvas does not open to a scoped caller: no link to it from the report (nor from the live view).
    assert other.page.locator(f"a[href='/journeys/{JOURNEY}/edit']").count() == 0
    assert not other.unexpected(), other.unexpected()
    other.page.context.close()


def _manager(session: Session) -> Session:
    """mgr.zhao in a browser context of their own, in the session's language, watched like it."""
    context = session.page.context.browser.new_context(
        viewport={"width": 1440, "height": 900}, locale=session.locale
    )
    context.add_init_script(f"window.localStorage.setItem('touchpoint.locale', '{session.locale}')")
    other = Session(page=context.new_page(), base=session.base, locale=session.locale)
    other.expect_failure("/api/v1/auth/me")
    other.watch()
    other.sign_in("mgr.zhao")
    return other
