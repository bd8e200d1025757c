"""Content & channels in a real browser (issue 18, part 4): an operator edits a demo template — a variable
from the picker, a preview for a demo customer with what the policies would do, a banned word marked and
found under the body as it is typed, the new version's diff — then opens the channel settings with the
providers' health and the do-not-disturb and consent lists; every page drawn in both languages."""

from __future__ import annotations

from console_support import Session, api_client

TEMPLATE = "market_morning_brief"
CUSTOMER = "C1000001"
BODY = "[data-testid=template-body]"


def _pick_variable(session: Session, variable: str) -> None:
    """Open the variable picker, search for a name and take it (it goes in at the body's cursor)."""
    page = session.page
    page.locator("[data-testid=variable-picker]").click()
    page.keyboard.type(variable)
    page.locator(f'.ant-select-item-option[title="{variable}"]').click()


def test_operator_edits_previews_and_versions_a_template(session: Session) -> None:
    session.sign_in("ops.chen")
    page = session.page
    session.open("/content/templates")
    page.locator(f"[data-testid=template-link-{TEMPLATE}]").click()
    page.wait_for_selector("[data-testid=template-editor-page]")
    page.wait_for_selector("[data-testid=template-versions] tbody tr")
    before = page.input_value(BODY)

    # The picker inserts at the cursor: put it at the very start of the body.
    page.locator(BODY).click()
    page.keyboard.press("ControlOrMeta+Home")
    _pick_variable(session, "customer.name")
    after = page.input_value(BODY)
    assert after == "{{ customer.name }}" + before

    # The preview renders what is on screen (the unsaved change too) for a demo customer, with the policies'
    # decision now: the API's preview of the same draft.
    page.fill("[data-testid=preview-customer]", CUSTOMER)
    page.click("[data-testid=preview-run]")
    page.wait_for_selector("[data-testid=preview-policies] [data-testid=preview-outcome]")
    api = api_client(session.base, "ops.chen")
    draft = {k: v for k, v in api.get(f"/api/v1/templates/{TEMPLATE}").json().items() if k != "name"}
    draft["body"] = after
    expected = api.post(
        f"/api/v1/templates/{TEMPLATE}/preview", json={"customer_no": CUSTOMER, "draft": draft}
    ).json()
    saved_only = api.post(f"/api/v1/templates/{TEMPLATE}/preview", json={"customer_no": CUSTOMER}).json()
    assert expected["body"] != saved_only["body"]  # the inserted name shows before it is saved
    shown = page.locator("[data-testid=preview-outcome]").inner_text()
    assert (
        shown
        == {"would send": "将发送", "skipped": "不发送", "delayed": "延后发送"}[
            expected["policies"]["outcome"]
        ]
    )
    assert page.locator("[data-testid=preview-body]").inner_text() == expected["body"]

    # A banned word is marked as it is typed, and the content check names it under the body before saving.
    page.locator(BODY).click()
    page.keyboard.press("ControlOrMeta+End")
    page.keyboard.type("稳赚不赔")
    page.wait_for_selector("[data-testid=banned-marks] mark >> text=稳赚不赔")
    page.wait_for_selector("[data-testid=fault-body] >> text=稳赚")
    versions = page.locator("[data-testid=template-versions] tbody tr").count()
    page.click("[data-testid=template-save]")
    page.wait_for_function(
        f"() => document.querySelectorAll('[data-testid=template-versions] tbody tr').length > {versions}"
    )
    diff = page.locator("[data-testid=version-diff]")
    diff.locator(".diff-added", has_text="稳赚不赔").wait_for()
    assert diff.locator(".diff-removed").count() >= 1
    assert "{{ customer.name }}" in diff.locator(".diff-added").inner_text()
    session.shot("template-editor-saved")

    saved = api.get(f"/api/v1/templates/{TEMPLATE}").json()
    assert saved["body"] == "{{ customer.name }}" + before + "稳赚不赔"


def test_content_pages_in_both_languages(any_language: Session) -> None:
    session = any_language
    api = api_client(session.base, "ops.chen")
    assert (
        api.put("/api/v1/do-not-disturb/C1000002", json={"reason": "客户投诉", "days": 30}).status_code == 200
    )
    consent = {"channel": "sms", "granted": False, "source": "call_centre"}
    assert api.post("/api/v1/customers/C1000003/consent", json=consent).status_code == 200

    session.sign_in("ops.chen")
    page = session.page
    session.open("/content/templates")
    page.wait_for_selector(f"[data-testid=template-link-{TEMPLATE}]")
    session.shot("content-templates")

    session.open(f"/content/templates/{TEMPLATE}")
    page.wait_for_selector("[data-testid=template-versions] tbody tr")
    page.fill("[data-testid=preview-customer]", CUSTOMER)
    page.click("[data-testid=preview-run]")
    page.wait_for_selector("[data-testid=preview-outcome]")
    session.shot("template-editor")

    session.open("/content/templates/fund_autoinvest_offer")
    page.wait_for_selector("[data-testid=template-provider-id]")
    assert page.locator("[data-testid=template-subject]").count() == 0, "an SMS has no subject"
    session.shot("template-editor-sms")

    session.open("/content/channels")
    page.wait_for_selector("[data-testid=channel-health] tbody tr.ant-table-row")
    page.wait_for_selector("[data-testid=policy-banned-words]")
    rows = page.locator("[data-testid=channel-health] tbody tr.ant-table-row").count()
    assert rows == len(api.get("/api/v1/channels/health").json()["channels"])
    session.shot("content-channels")

    session.open("/content/policies")
    page.wait_for_selector("[data-testid=dnd-table] tbody tr >> text=C1000002")
    session.shot("content-policies-dnd")
    page.locator(".ant-tabs-tab").nth(1).click()
    page.wait_for_selector("[data-testid=consent-table] tbody tr >> text=C1000003")
    session.shot("content-policies-consent")


def test_operator_adds_and_removes_a_do_not_disturb_entry_and_filters_consent(session: Session) -> None:
    api = api_client(session.base, "ops.chen")
    consent = {"channel": "email", "granted": False, "source": "e2e"}
    assert api.post("/api/v1/customers/C1000005/consent", json=consent).status_code == 200
    session.sign_in("ops.chen")
    page = session.page
    session.open("/content/policies")
    page.wait_for_selector("[data-testid=dnd-table]")
    page.click("[data-testid=dnd-add]")
    page.fill("[data-testid=dnd-customer]", "C1000004")
    page.fill("[data-testid=dnd-reason]", "客户来电要求")
    page.click("#dnd-submit")
    page.wait_for_selector("[data-testid=dnd-table] tbody tr >> text=C1000004")
    listed = {e["customer_no"] for e in api.get("/api/v1/do-not-disturb").json()}
    assert "C1000004" in listed
    page.click("[data-testid=dnd-remove-C1000004]")
    page.locator(".ant-popconfirm .ant-btn-primary").click()
    page.wait_for_selector("[data-testid=dnd-table] tbody tr >> text=C1000004", state="detached")
    assert "C1000004" not in {e["customer_no"] for e in api.get("/api/v1/do-not-disturb").json()}

    page.locator(".ant-tabs-tab").nth(1).click()
    page.locator("[data-testid=consent-channel]").click()
    page.locator(".ant-select-item-option", has_text="邮件").click()
    page.wait_for_selector("[data-testid=consent-table] tbody tr >> text=C1000005")
    expected = api.get("/api/v1/consents", params={"channel": "email", "limit": 500}).json()
    rows = page.locator("[data-testid=consent-table] tbody tr.ant-table-row").count()
    assert rows == min(expected["total"], 20)
