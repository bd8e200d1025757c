"""Outbox effects are typed: each stored shape reads back as its action's model and writes back unchanged;
a payload that is not one of them is refused by name."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from touchpoint.journeys.effects import (
    EffectContext,
    SendEffect,
    SetAttributeEffect,
    SetTagEffect,
    WebhookEffect,
    effect_json,
    effect_of,
    parse_effect,
)
from touchpoint.journeys.model import CallWebhook, SendMessage, SetAttribute

CONTEXT = {"payload": {"fund_code": "F002"}, "variants": {"ab": "v1"}}
STORED: list[tuple[dict[str, Any], type]] = [
    ({"kind": "send", "channel": "log", "template": None, "text": "你好", "content": "你好"}, SendEffect),
    ({"kind": "send", "channel": "sms", "template": "offer", "text": None, "context": CONTEXT}, SendEffect),
    ({"kind": "set_tag", "tag": "vip", "value": "是"}, SetTagEffect),
    ({"kind": "set_attribute", "attribute": "due", "value": "2025-10-09"}, SetAttributeEffect),
    ({"kind": "webhook", "url": "https://crm.example/hook", "context": CONTEXT}, WebhookEffect),
]


@pytest.mark.parametrize(("payload", "model"), STORED)
def test_each_stored_shape_reads_as_its_model_and_writes_back_unchanged(
    payload: dict[str, Any], model: type
) -> None:
    effect = parse_effect(payload)
    assert type(effect) is model
    assert effect_json(effect) == payload


def test_a_template_send_carries_the_run_context_and_an_inline_note_its_text() -> None:
    send = effect_of(
        SendMessage(kind="send", channel="sms", template="offer"), context=EffectContext(**CONTEXT)
    )
    assert isinstance(send, SendEffect)
    assert not send.inline
    assert send.context is not None
    assert send.context.payload == {"fund_code": "F002"}
    note = effect_of(SendMessage(kind="send", channel="log", text="hi {{ x }}"), content="hi 1")
    assert isinstance(note, SendEffect)
    assert note.inline
    assert note.content == "hi 1"
    hook = effect_of(CallWebhook(kind="webhook", url="https://crm.example/hook"))
    assert isinstance(hook, WebhookEffect)
    assert hook.context == EffectContext()
    due = effect_of(SetAttribute(kind="set_attribute", attribute="due", value=date(2025, 10, 9)))
    assert effect_json(due)["value"] == "2025-10-09"  # stored as JSON text


@pytest.mark.parametrize(
    ("payload", "fault"),
    [
        ({"kind": "sms_blast", "channel": "sms"}, "does not match any of the expected tags"),
        ({"kind": "send", "channel": "sms", "template": "offer", "text": "x"}, "exactly one of template"),
        ({"kind": "set_tag", "tag": "vip"}, "Field required"),
        ({"kind": "webhook", "url": "ftp://crm.example/hook"}, "should match pattern"),
        ({"kind": "set_tag", "tag": "vip", "value": "是", "extra": 1}, "Extra inputs are not permitted"),
    ],
)
def test_a_payload_that_is_no_effect_is_refused_by_name(payload: dict[str, Any], fault: str) -> None:
    with pytest.raises(ValidationError, match=fault):
        parse_effect(payload)
