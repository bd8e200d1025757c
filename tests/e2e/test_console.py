"""The console's part-1 pages in the browser, as an operator, compliance and an advisor would use them."""

from __future__ import annotations

import re

from console_support import Session, api_client, record_timing


def test_operator_signs_in_and_sees_the_overview(session: Session) -> None:
    session.open("/")
    session.page.wait_for_selector("[data-testid=sign-in-username]")
    session.shot("sign-in")
    session.sign_in("ops.chen")
    page = session.page
    page.wait_for_selector("[data-testid=overview-page]")
    assert re.search(r"/overview$", page.url)
    customers = page.locator("[data-testid='kpi-overview.customers'] .ant-statistic-content").inner_text()
    assert customers.replace(",", "").strip() == "300"
    page.wait_for_selector("[data-testid=chart-activity] canvas")
    page.wait_for_selector("[data-testid=freshness-table] tbody tr")
    session.shot("overview")

    # Time to first render of the home page, signed in, from navigation start (printed by the run).
    page.goto(session.base + "/overview")
    page.wait_for_selector("[data-testid='kpi-overview.customers'] .ant-statistic-content")
    elapsed = page.evaluate("performance.now()")
    record_timing(f"home page first render ({session.locale}): {elapsed:.0f} ms")


def test_customer_found_from_the_top_bar_opens_the_360_view(session: Session) -> None:
    session.sign_in("ops.chen")
    page = session.page
    page.fill("[data-testid=topbar-search] input", "C100000")
    page.locator(".ant-select-item-option", has_text="C1000001").click()
    page.wait_for_selector("[data-testid=customer-360-page]")
    assert page.url.endswith("/customers/C1000001")
    profile = page.locator("[data-testid=c360-profile]").inner_text()
    assert re.search(r"1\d{10}", profile), "an operator holds pii:view: the full phone number shows"
    page.wait_for_selector("[data-testid=chart-assets] canvas")
    session.shot("customer-360")

    page.goto(session.base + "/customers?q=C10000")
    page.wait_for_selector("[data-testid=customer-results] tbody tr >> text=C1000000")
    session.shot("customer-search")


def test_compliance_sees_masked_personal_data(session: Session) -> None:
    session.sign_in("comp.sun")
    page = session.page
    page.goto(session.base + "/customers/C1000001")
    page.wait_for_selector("[data-testid=customer-360-page]")
    profile = page.locator("[data-testid=c360-profile]").inner_text()
    assert re.search(r"\d{3}\*{4}\d{4}", profile)
    assert not re.search(r"1\d{10}", profile)


def test_advisor_cannot_open_a_customer_of_another_branch(session: Session, console_url: str) -> None:
    admin = api_client(console_url, "admin")
    me = api_client(console_url, "adv.wang").get("/api/v1/auth/me").json()
    hits = admin.get("/api/v1/customers", params={"q": "C", "limit": 50}).json()
    foreign = next(h for h in hits if h["advisor_id"] != me["advisor_id"])
    own = next(h for h in hits if h["advisor_id"] == me["advisor_id"])

    session.sign_in("adv.wang")
    page = session.page
    assert page.url.endswith("/workbench/tasks"), "an advisor lands on their own tasks"
    assert me["advisor_id"] in page.locator("[data-testid=scope-chip]").inner_text()
    session.expect_failure(f"/api/v1/customers/{foreign['customer_no']}")
    page.goto(f"{session.base}/customers/{foreign['customer_no']}")
    page.wait_for_selector("[data-testid=customer-missing]")
    assert page.locator("[data-testid=customer-360-page]").count() == 0
    session.shot("customer-forbidden")

    page.goto(f"{session.base}/customers/{own['customer_no']}")
    page.wait_for_selector("[data-testid=customer-360-page]")
    page.goto(f"{session.base}/overview")
    page.wait_for_selector(".ant-result-403")


def test_a_refused_sign_in_is_explained_in_the_users_language(any_language: Session) -> None:
    session = any_language
    session.open("/sign-in")
    page = session.page
    session.expect_failure("/api/v1/auth/sign-in")
    page.fill("[data-testid=sign-in-username]", "ops.chen")
    page.fill("[data-testid=sign-in-password]", "not-the-password-1")
    page.click("[data-testid=sign-in-submit]")
    notice = page.wait_for_selector(".ant-notification-notice")
    title = notice.inner_text()
    assert ("请重新登录" if session.locale == "zh-CN" else "Please sign in again") in title
    session.shot("sign-in-refused")


def _dry_run(session: Session) -> dict[str, int]:
    """Click 试算, wait for its answer and for the button to settle, and read the distribution table."""
    page = session.page
    with page.expect_response(lambda r: r.url.endswith("/dry-run?sample=2000") and r.status == 200):
        page.click("[data-testid=tag-dry-run]")
    page.wait_for_selector("[data-testid=tag-dry-run]:not(.ant-btn-loading)")
    rows = page.locator("[data-testid=dry-run-table] tbody tr.ant-table-row")
    rows.first.wait_for()
    return {
        rows.nth(i).locator("td").nth(0).inner_text(): int(rows.nth(i).locator("td").nth(1).inner_text())
        for i in range(rows.count())
    }


def test_a_rule_tags_threshold_edited_changes_its_dry_run(session: Session, console_url: str) -> None:
    session.sign_in("ana.liu")
    page = session.page
    page.goto(session.base + "/catalog/tags")
    page.wait_for_selector("[data-testid=tags-page] tbody tr")
    session.shot("tags")
    page.goto(session.base + "/catalog/tags/elderly")
    page.wait_for_selector("[data-testid=chart-distribution] canvas")
    session.shot("tag-detail")
    page.click("[data-testid=tag-edit]")
    page.wait_for_selector("[data-testid=tag-editor-page]")
    before = _dry_run(session)

    page.locator("[data-testid=param-0]").fill("40")
    after = _dry_run(session)
    session.shot("tag-editor-dry-run")
    assert after != before
    assert after.get("是", 0) > before.get("是", 0), "a lower age threshold makes more customers elderly"

    api = api_client(console_url, "ana.liu")
    definition = api.get("/api/v1/tags/elderly").json()["definition"]
    body = {k: v for k, v in definition.items() if k != "name" and v is not None}
    body["params"] = {**body["params"], "elderly_age": 40}
    answer = api.post("/api/v1/tags/elderly/dry-run", params={"sample": 2000}, json=body).json()
    assert answer["tags"]["elderly"]["distribution"] == after


def _pick(session: Session, select: str, search: str, option: str) -> None:
    """Open an Ant Design select, type to search and click the option whose text holds `option`."""
    page = session.page
    page.locator(select).last.click()
    page.keyboard.type(search)
    page.locator(".ant-select-dropdown:visible .ant-select-item-option", has_text=option).first.click()
    _wait_dropdowns_closed(session)


def _wait_dropdowns_closed(session: Session) -> None:
    """Wait until no select's dropdown is open, so the next `:visible` option is the next select's own."""
    open_dropdown = ".ant-select-dropdown:not(.ant-select-dropdown-hidden)"
    session.page.wait_for_function(f"() => !document.querySelector('{open_dropdown}')")


def _last_preview_rule(requests: list[object]) -> object:
    """The rule of the newest segment preview the page sent (None before the first)."""
    return requests[-1] if requests else None


def test_a_three_condition_segment_built_by_clicking_counts_what_the_api_counts(
    session: Session, console_url: str
) -> None:
    session.sign_in("ops.chen")
    page = session.page
    previews: list[object] = []
    page.on(
        "request",
        lambda r: previews.append(r.post_data_json) if "/api/v1/segments/preview?" in r.url else None,
    )
    page.goto(session.base + "/segments/new")
    page.wait_for_selector("[data-testid=rule-builder]")
    name = "e2e_rich_active_" + session.locale.replace("-", "_").lower()
    page.fill("[data-testid=segment-name]", name)
    page.fill("[data-testid=segment-title]", "E2E 富裕活跃")

    _pick(session, "[data-testid=rule-tag]", "asset_tier", "(asset_tier)")
    page.locator("[data-testid=rule-tag-values]").click()
    for value in ("富裕", "高净值"):
        page.locator(f".ant-select-dropdown:visible .ant-select-item-option[title='{value}']").click()
    page.keyboard.press("Escape")
    _wait_dropdowns_closed(session)
    page.wait_for_selector("[data-testid=count-value]")

    page.click("[data-testid=rule-add-0]")
    page.click("[data-testid=add-indicator]")
    _pick(session, "[data-testid=rule-indicator]", "total_assets", "(total_assets)")
    page.locator("[data-testid=rule-number]").last.fill("50000")

    page.click("[data-testid=rule-add-0]")
    page.click("[data-testid=add-event]")
    _pick(session, "[data-testid=rule-event]", "login", "login")
    page.locator("[data-testid=rule-count]").last.fill("2")
    page.locator("[data-testid=rule-within]").last.fill("20")
    page.locator("[data-testid=rule-within-unit]").last.click()
    td = "交易日" if session.locale == "zh-CN" else "trading days"
    page.locator(".ant-select-dropdown:visible .ant-select-item-option[title='" + td + "']").click()
    _wait_dropdowns_closed(session)

    rule = {
        "all": [
            {"tag": "asset_tier", "in": ["富裕", "高净值"]},
            {"indicator": "total_assets", "op": ">=", "value": 50000},
            {"event": "login", "count": {"op": ">=", "value": 2}, "within": "20td"},
        ]
    }
    # The builder must have sent exactly this rule before its count can be compared with the API's.
    for _ in range(100):
        if _last_preview_rule(previews) == rule:
            break
        page.wait_for_timeout(100)
    assert _last_preview_rule(previews) == rule
    expected = api_client(console_url, "ops.chen").post("/api/v1/segments/preview", json=rule).json()["count"]
    page.wait_for_function(
        "n => document.querySelector('[data-testid=count-value]')?.dataset.count === String(n)", arg=expected
    )
    assert page.locator("[data-testid=count-incomplete]").count() == 0
    session.shot("segment-builder")

    page.click("[data-testid=segment-save]")
    page.wait_for_selector("[data-testid=segment-detail-page]")
    assert page.url.endswith(f"/segments/{name}")
    saved = api_client(console_url, "ops.chen").get(f"/api/v1/segments/{name}").json()
    assert saved["rule"] == rule
    session.shot("segment-detail")

    page.click("[data-testid=segment-insight]")
    page.wait_for_selector("[data-testid=insight-page] [data-testid^=tgi-] canvas")
    size = page.locator("[data-testid=insight-size] .ant-statistic-content").inner_text()
    assert size.replace(",", "").strip() == str(expected)
    session.shot("segment-insight")
    page.goto(f"{session.base}/segments/compare?names=dormant_customers,{name}")
    page.wait_for_selector("[data-testid=venn]")
    session.shot("segment-overlap")


def test_a_funnels_drop_off_is_saved_as_a_segment(session: Session, console_url: str) -> None:
    session.sign_in("ops.chen")
    page = session.page
    page.goto(session.base + "/analytics/funnels")
    page.click("[data-testid=funnel-run]")
    page.wait_for_selector("[data-testid=funnel-table] tbody tr.ant-table-row >> nth=1")
    page.wait_for_selector("[data-testid=chart-funnel] canvas")
    session.shot("funnel")
    reached = [
        int(
            page.locator("[data-testid=funnel-table] tbody tr.ant-table-row")
            .nth(i)
            .locator("td")
            .nth(2)
            .inner_text()
            .replace(",", "")
        )
        for i in range(2)
    ]
    name = "e2e_dropped_" + session.locale.replace("-", "_").lower()
    page.click("[data-testid=funnel-save-2]")
    page.fill("[data-testid=save-segment-name]", name)
    page.click("[data-testid=save-segment-ok]")
    page.wait_for_selector("[data-testid=funnel-saved]")
    saved = api_client(console_url, "ops.chen").get(f"/api/v1/segments/{name}").json()
    assert saved["kind"] == "static"
    assert saved["size"] == reached[0] - reached[1]


PAGES = (
    ("/overview", "[data-testid=chart-activity] canvas"),
    ("/customers?q=C10000", "[data-testid=customer-results] tbody tr.ant-table-row"),
    ("/customers/C1000001", "[data-testid=chart-assets] canvas"),
    ("/catalog/tags", "[data-testid=tags-page] tbody tr"),
    ("/catalog/tags/asset_tier", "[data-testid=chart-distribution] canvas"),
    (
        "/catalog/tags/asset_tier/edit",
        "[data-testid=tag-editor-page] [data-testid=rule-builder], [data-testid=tag-editor-page] form",
    ),
    ("/catalog/indicators", "[data-testid=indicators-page] tbody tr"),
    ("/catalog/indicators/new", "[data-testid=indicator-editor-page] form"),
    ("/catalog/runs", "[data-testid=compute-runs-page] tbody tr"),
    ("/segments", "[data-testid=segments-page] tbody tr"),
    ("/segments/new", "[data-testid=count-incomplete]"),
    ("/segments/dormant_customers", "[data-testid=segment-size]"),
    ("/segments/dormant_customers/edit", "[data-testid=count-value]"),
    ("/segments/dormant_customers/insight", "[data-testid^=tgi-] canvas"),
    ("/segments/compare?names=dormant_customers,e2e_walk", "[data-testid=venn]"),
    ("/analytics/events", "[data-testid=events-run]"),
    ("/analytics/funnels", "[data-testid=funnel-run]"),
    ("/analytics/retention", "[data-testid=retention-run]"),
    ("/analytics/paths", "[data-testid=paths-run]"),
    ("/account/password", "form"),
)


def test_every_page_draws_in_both_languages(any_language: Session, console_url: str) -> None:
    """Each page of part 1 opens without an error in zh-CN and English, and is screenshotted for a person."""
    session = any_language
    second = {"title": "E2E 富裕", "rule": {"tag": "asset_tier", "in": ["富裕"]}}
    api_client(console_url, "admin").put("/api/v1/segments/e2e_walk", json=second).raise_for_status()
    session.sign_in("admin")
    for path, ready in PAGES:
        session.open(path)
        session.page.wait_for_selector(ready)
        run = session.page.locator("[data-testid$=-run]")
        if run.count():
            run.first.click()
            session.page.wait_for_selector("[data-testid^=chart-] canvas")
        session.shot("page" + path.split("?")[0].replace("/", "-"))
    _richer_states(session, console_url)


def _richer_states(session: Session, console_url: str) -> None:
    """The states of the pages a plain walk does not reach: four segments' Venn, the events by a tag against
    the previous period, and a customer's advisor tasks."""
    client = api_client(console_url, "admin")
    for name, title, rule in (
        ("e2e_walk_mature", "E2E 成熟或沉睡", {"tag": "lifecycle_stage", "in": ["成熟", "沉睡"]}),
        ("e2e_walk_aum", "E2E 10万以上", {"tag": "aum_band", "in": ["10-50万", "50-100万", "100-500万"]}),
    ):
        client.put(f"/api/v1/segments/{name}", json={"title": title, "rule": rule}).raise_for_status()
    page = session.page
    session.open("/segments/compare?names=dormant_customers,e2e_walk,e2e_walk_mature,e2e_walk_aum")
    page.wait_for_selector("[data-testid=venn4-region-15]")
    assert page.locator("[data-testid^=venn4-region-]").count() == 15
    session.shot("page-segments-compare-4")
    session.open("/analytics/events")
    page.fill("[data-testid=events-by]", "tag:activity_level")
    page.click("[data-testid=events-compare]")
    page.click("[data-testid=events-run]")
    page.wait_for_selector("[data-testid=events-totals]")
    page.wait_for_selector("[data-testid=chart-events] canvas")
    session.shot("page-analytics-events-compare")
    found = client.get("/api/v1/tasks", params={"status": "all", "limit": 1}).json()["tasks"]
    customer = found[0]["customer_no"] if found else "C1000001"
    session.open(f"/customers/{customer}")
    page.click(".ant-tabs-tab[data-node-key=tasks]")
    page.wait_for_selector("[data-testid=c360-tasks]")
    session.shot("page-customers-360-tasks")
