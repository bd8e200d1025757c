"""The journey canvas in a real browser (issue 18): a 基金定投 journey built from an empty canvas with the
mouse, saved, simulated with per-node counts equal to the API's, submitted for approval and approved by
compliance (not by its maker); the canvas, live view and simulation drawn in both languages."""

from __future__ import annotations

import time
from typing import Any

from console_support import Session, api_client
from support import finished_job

NAME = "fund_canvas"


def _drop(session: Session, key: str, x: int, y: int) -> None:
    """Drag a palette item onto the canvas at (x, y) of the canvas, then click the empty pane (the panel
    closes, the canvas is whole again)."""
    page = session.page
    before = page.locator(".react-flow__node").count()
    page.drag_and_drop(
        f"[data-testid=palette-{key}]", "[data-testid=journey-canvas]", target_position={"x": x, "y": y}
    )
    page.wait_for_function(f"() => document.querySelectorAll('.react-flow__node').length > {before}")
    page.keyboard.press("Escape")


def _centre(box: dict[str, float]) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def _connect(session: Session, source: str, handle: str, target: str) -> None:
    """Draw an edge with the mouse from a node's handle to another node's top."""
    page = session.page
    edges = page.locator(".react-flow__edge").count()
    start = page.locator(
        f'.react-flow__node[data-id="{source}"] .react-flow__handle[data-handleid="{handle}"]'
    )
    end = page.locator(f'.react-flow__node[data-id="{target}"] .react-flow__handle.target')
    x, y = _centre(start.bounding_box())
    page.mouse.move(x, y)
    page.mouse.down()
    tx, ty = _centre(end.bounding_box())
    page.mouse.move(tx, ty, steps=12)
    page.mouse.up()
    page.wait_for_function(f"() => document.querySelectorAll('.react-flow__edge').length > {edges}")


def _open(session: Session, node: str) -> None:
    """Close the panel (a click on the empty pane) so that no node is under it, then open `node`'s."""
    session.page.locator(".react-flow__pane").click(position={"x": 5, "y": 5})
    session.page.wait_for_selector("[data-testid=journey-panel]", state="detached")
    session.page.locator(f'.react-flow__node[data-id="{node}"]').click()
    session.page.wait_for_selector(f"[data-testid=journey-panel] >> text={node}")


def _pick(session: Session, select: str, search: str, option: str) -> None:
    page = session.page
    page.locator(select).last.click()
    page.keyboard.type(search)
    page.locator(".ant-select-dropdown:visible .ant-select-item-option", has_text=option).first.click()
    page.wait_for_function(
        "() => !document.querySelector('.ant-select-dropdown:not(.ant-select-dropdown-hidden)')"
    )


def _second_session(session: Session, username: str, viewport: dict[str, int] | None = None) -> Session:
    """Another person signed in, in a browser context of their own (a desktop screen unless `viewport`),
    watched like the first."""
    size = viewport or {"width": 1600, "height": 1000}
    context = session.page.context.browser.new_context(viewport=size, locale=session.locale)
    context.add_init_script(f"window.localStorage.setItem('touchpoint.locale', '{session.locale}')")
    other = Session(page=context.new_page(), base=session.base, locale=session.locale)
    other.expect_failure("/api/v1/auth/me")
    other.watch()
    other.sign_in(username)
    return other


def test_a_journey_built_with_the_mouse_runs_to_an_advisor_who_completes_its_task_on_a_phone(
    session: Session, console_url: str
) -> None:
    """The acceptance of issue 18: built, saved, simulated, approved by compliance (not its maker); its runs
    reach the advisor task, the advisor completes it on a phone, and the run moves on."""
    page = session.page
    page.set_viewport_size({"width": 1920, "height": 1200})
    api = api_client(console_url, "ops.chen")
    # The entry: adv.wang's customers (so that the advisor who signs in below gets the tasks).
    segment = "e2e_wang_customers"
    rule = {"attribute": "advisor_id", "in": ["A1-1"]}
    api.put(f"/api/v1/segments/{segment}", json={"title": "王投顾的客户", "rule": rule}).raise_for_status()
    api.post(f"/api/v1/segments/{segment}/refresh").raise_for_status()
    session.sign_in("ops.chen")
    session.open("/journeys/new")
    page.wait_for_selector("[data-testid=journey-settings]")
    page.fill("[data-testid=journey-name]", NAME)
    page.fill("[data-testid=journey-title]", "基金定投（画布）")
    page.locator(".ant-drawer-close").click()
    page.wait_for_selector("[data-testid=journey-settings]", state="hidden")

    # The entry sits in the middle of an empty canvas: the other nodes go around it.
    for key, x, y in (
        ("wait", 160, 100),
        ("wait_for_event", 160, 330),
        ("split", 160, 560),
        ("send", 1180, 100),
        ("advisor_task", 1180, 330),
        ("wait_for_event", 1180, 560),
        ("exit", 1180, 790),
    ):
        _drop(session, key, x, y)
    # The run's path waits only for the first event's timeout (a minute of real time); the wait node sits on
    # the branch of customers who subscribe meanwhile.
    _connect(session, "entry", "next", "wait_for_event_1")
    _connect(session, "wait_for_event_1", "on_event", "wait_1")
    _connect(session, "wait_1", "next", "exit_1")
    _connect(session, "wait_for_event_1", "on_timeout", "split_1")
    _connect(session, "split_1", "branch:0", "send_1")
    _connect(session, "split_1", "default", "advisor_task_1")
    _connect(session, "advisor_task_1", "next", "wait_for_event_2")
    _connect(session, "wait_for_event_2", "on_event", "exit_1")
    _connect(session, "wait_for_event_2", "on_timeout", "exit_1")

    _open(session, "entry")
    _pick(session, "[data-testid=entry-segment]", segment, segment)
    page.wait_for_selector("[data-testid=entry-segment-size]")
    _open(session, "wait_1")
    page.fill("[data-testid=wait-duration]", "1m")
    _open(session, "wait_for_event_1")
    _pick(session, "[data-testid=wait-event]", "fund_subscribe", "fund_subscribe")
    page.fill("[data-testid=wait-timeout]", "1m")
    _open(session, "split_1")
    _pick(session, "[data-testid=rule-tag]", "asset_tier", "(asset_tier)")
    page.locator("[data-testid=rule-tag-values]").click()
    page.locator(".ant-select-dropdown:visible .ant-select-item-option[title='高净值']").click()
    page.keyboard.press("Escape")
    _open(session, "send_1")
    _pick(session, "[data-testid=send-channel]", "站内信", "站内信")
    _pick(session, "[data-testid=send-template]", "fund_detail_nudge", "fund_detail_nudge")
    _open(session, "advisor_task_1")
    page.fill("[data-testid=task-title]", "定投意向跟进")
    _open(session, "wait_for_event_2")
    _pick(session, "[data-testid=wait-event]", "advisor_task_completed", "advisor_task_completed")
    page.keyboard.press("Escape")

    save = page.locator("[data-testid=journey-save]")
    page.wait_for_function("() => !document.querySelector('[data-testid=journey-issues]')", timeout=15_000)
    session.shot("journey-canvas-built")
    save.click()
    page.wait_for_url(f"**/journeys/{NAME}/edit")
    saved = api.get(f"/api/v1/journeys/{NAME}").json()
    assert saved["entry"] == {"type": "segment", "segment": segment, "schedule": None}
    assert saved["start"] == "wait_for_event_1"
    nodes = {n["id"]: n for n in saved["nodes"]}
    assert (nodes["wait_1"]["duration"], nodes["wait_1"]["next"]) == ("1m", "exit_1")
    assert (nodes["wait_for_event_1"]["on_event"], nodes["wait_for_event_1"]["on_timeout"]) == (
        "wait_1",
        "split_1",
    )
    assert nodes["split_1"]["branches"][0]["rule"] == {"all": [{"tag": "asset_tier", "in": ["高净值"]}]}
    assert (nodes["split_1"]["branches"][0]["next"], nodes["split_1"]["default"]) == (
        "send_1",
        "advisor_task_1",
    )
    assert nodes["send_1"]["action"] == {
        "kind": "send",
        "channel": "inbox",
        "template": "fund_detail_nudge",
        "text": None,
    }
    assert nodes["advisor_task_1"]["action"]["title"] == "定投意向跟进"
    assert nodes["advisor_task_1"]["next"] == "wait_for_event_2"
    assert nodes["wait_for_event_2"]["event"] == "advisor_task_completed"

    # A simulation from the canvas paints each node's count: the API's simulation of the same period agrees.
    sent: list[Any] = []
    page.on("request", lambda r: sent.append(r.post_data_json) if r.url.endswith("/simulate") else None)
    page.click("[data-testid=journey-simulate]")
    page.click("[data-testid=sim-run]")
    page.wait_for_selector("[data-testid=sim-summary]", timeout=180_000)
    period = {"from": sent[0]["from"], "to": sent[0]["to"]}
    job = api.post(f"/api/v1/journeys/{NAME}/simulate", json=period).json()
    expected = {n["node"]: n["entered"] for n in finished_job(api, job["id"], seconds=180)["result"]["nodes"]}
    assert expected["wait_for_event_1"] > 0
    modal = page.locator("[data-testid=simulation-modal]")
    for node, entered in expected.items():
        counts = modal.locator(
            f'.react-flow__node[data-id="{node}"] [data-testid=journey-node-counts] b'
        ).first
        assert counts.inner_text().replace(",", "") == str(entered), node
    session.shot("journey-simulation")
    page.keyboard.press("Escape")
    page.wait_for_selector("[data-testid=simulation-modal]", state="hidden")

    # Submitted for approval: the maker cannot approve; compliance can, in the console, and it goes live.
    page.click("[data-testid=journey-publish]")
    submit = page.locator("[data-testid=journey-publish-modal] .ant-btn-primary")
    submit.wait_for()
    session.settle(10_000)  # the modal zooms in: a click during it (a loaded CI machine) missed the button
    published = f"/journeys/{NAME}/publish"
    with page.expect_response(lambda answer: answer.url.endswith(published), timeout=60_000):
        submit.click()
    page.wait_for_selector("text=已提交审批")
    mine = [
        a
        for a in api.get("/api/v1/approvals").json()
        if a["target"] == f"journey/{NAME}" and a["status"] == "pending"
    ]
    assert len(mine) == 1
    assert api.post(f"/api/v1/approvals/{mine[0]['id']}/approve", json={"reason": "自批"}).status_code == 403
    checker_api = api_client(console_url, "comp.sun")
    session.open("/approvals")
    page.locator("[data-testid=approvals-page] tbody tr", has_text=f"journey/{NAME}").first.click()
    page.wait_for_selector("[data-testid=approval-status]")
    assert page.locator("[data-testid=approval-approve]").count() == 0  # the maker is no reviewer

    checker = _second_session(session, "comp.sun")
    checker.open("/approvals")
    checker.page.locator("[data-testid=approvals-page] tbody tr", has_text=f"journey/{NAME}").first.click()
    checker.page.wait_for_selector('[data-testid=approval-journey-diff] .react-flow__node[data-id="wait_1"]')
    assert checker.page.locator("[data-testid=approval-journey-diff] .journey-mark-added").count() == 7
    checker.shot("approval-journey")
    checker.page.fill("[data-testid=approval-reason]", "合规审查通过")
    checker.page.click("[data-testid=approval-approve]")
    checker.page.wait_for_selector("[data-testid=approval-drawer]", state="hidden")
    decided = checker_api.get(f"/api/v1/approvals/{mine[0]['id']}").json()
    assert (decided["status"], decided["checker"]) == ("approved", "comp.sun")
    assert decided["reason"] == "合规审查通过"
    assert not checker.unexpected(), checker.unexpected()
    checker.page.context.close()
    session.open(f"/journeys/{NAME}/live")
    page.wait_for_selector("[data-testid=journey-live-summary]")
    assert "运行中" in page.locator("[data-testid=journey-status]").inner_text()

    # The worker walks the runs to the advisor task when the first wait times out (1 minute).
    advisor_api = api_client(console_url, "adv.wang")
    task = _first_task_of(advisor_api, NAME)
    session.shot("journey-live-running")

    # The advisor, on a phone, finds the task, reads the talking points and records the outcome.
    phone = _second_session(session, "adv.wang", viewport={"width": 390, "height": 844})
    assert phone.page.url.endswith("/workbench/tasks")
    phone.page.locator(f"[data-testid=task-{task['id']}]").click()
    phone.page.wait_for_selector("[data-testid=task-detail] [data-testid=task-talking-points]")
    phone.shot("workbench-phone-task")
    phone.page.locator("[data-testid=task-outcome] label", has_text="已联系").click()
    phone.page.fill("[data-testid=task-note]", "已电话沟通定投")
    phone.page.click("[data-testid=task-complete]")
    phone.page.wait_for_selector("text=已反馈，任务完成")
    done = advisor_api.get(f"/api/v1/tasks/{task['id']}").json()
    assert (done["status"], done["outcome"], done["note"]) == ("done", "reached", "已电话沟通定投")
    assert not phone.unexpected(), phone.unexpected()
    phone.page.context.close()

    # The completed task comes back as advisor_task_completed: the run leaves its wait and ends.
    admin = api_client(console_url, "admin")
    customer = admin.get(f"/api/v1/tasks/{task['id']}").json()[
        "customer_no"
    ]  # whole: admin sees personal data
    deadline = time.monotonic() + 120
    while True:
        runs = admin.get(f"/api/v1/customers/{customer}/journeys").json()
        run = next(r for r in runs if r["journey"] == NAME)
        if run["status"] == "done":
            break
        assert time.monotonic() < deadline, run
        time.sleep(1)
    assert [s["node"] for s in run["steps"]][-2:] == ["wait_for_event_2", "exit_1"]


def _first_task_of(advisor: Any, journey: str) -> dict[str, Any]:
    """The first open task the journey made for the advisor, waiting for the worker to make one."""
    deadline = time.monotonic() + 240
    while True:
        tasks = advisor.get("/api/v1/tasks", params={"journey": journey}).json()["tasks"]
        if tasks:
            return dict(tasks[0])
        assert time.monotonic() < deadline, "no task reached the advisor"
        time.sleep(2)


PAGES = (
    ("/journeys", "[data-testid=journey-status]"),
    ("/journeys/fund_autoinvest/edit", ".react-flow__node[data-id=tier]"),
    ("/journeys/fund_autoinvest/live", "[data-testid=journey-node-counts]"),
    ("/journeys/new", "[data-testid=journey-settings]"),
    ("/mot/rules", "[data-testid=mot-rules-page] tbody tr.ant-table-row"),
    ("/mot/firings", "[data-testid=mot-firings-page] tbody tr.ant-table-row"),
    ("/approvals", "[data-testid=approvals-page] .ant-table"),
)


def test_the_journey_pages_draw_in_both_languages(any_language: Session) -> None:
    session = any_language
    session.sign_in("ops.chen")
    for path, ready in PAGES:
        session.open(path)
        session.page.wait_for_selector(ready)
        session.shot("page" + path.replace("/", "-"))
    session.open("/journeys/fund_autoinvest/live")
    held = session.page.locator("[data-testid=journey-held-back]")
    held.wait_for()
    held.click()
    session.page.wait_for_selector("[data-testid=journey-reasons] tbody tr.ant-table-row")
    session.shot("journey-live-held-back")
    session.page.keyboard.press("Escape")
    session.page.wait_for_selector("[data-testid=journey-reasons]", state="hidden")
    session.page.locator(".react-flow__node[data-id=bought]").click()
    session.page.wait_for_selector("[data-testid=journey-node-stats]")
    session.page.wait_for_selector("[data-testid=journey-node-runs] tbody tr")
    session.page.locator("[data-testid=journey-node-runs] tbody tr.ant-table-row").first.click()
    session.page.wait_for_selector("[data-testid=journey-run-path]")
    session.shot("journey-live-run-path")
    session.open("/mot/rules")
    session.page.locator("[data-testid=mot-rules-page] tbody tr.ant-table-row").first.click()
    session.page.wait_for_selector("[data-testid=mot-rule-drawer]")
    session.shot("mot-rule")
    for user, path, ready, size in (
        ("adv.wang", "/workbench/tasks", "[data-testid=my-tasks-page]", {"width": 1440, "height": 900}),
        ("adv.wang", "/workbench/tasks", "[data-testid=my-tasks-page]", {"width": 390, "height": 844}),
        ("mgr.zhao", "/workbench/team", "[data-testid=team-tasks-page]", {"width": 1440, "height": 900}),
    ):
        other = _second_session(session, user, viewport=size)
        other.open(path)
        other.page.wait_for_selector(ready)
        other.shot(f"page{path.replace('/', '-')}-{size['width']}")
        assert not other.unexpected(), other.unexpected()
        other.page.context.close()
