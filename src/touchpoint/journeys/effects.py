"""What a journey action leaves in the outbox: a typed effect, one model per action kind.

Each effect is the journey's own action model (model.py) plus what the run adds when it queues it: an inline
log note carries its text as rendered for the customer (`content`); a template send and a webhook carry the
run's entry payload and A/B variants (`context`), rendered or posted when the effect is dispatched. The
outbox stores the effect as JSON (`payload`) next to its `kind`; `parse_effect` reads it back, so the
dispatcher works on these models, never on a bare dictionary.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from touchpoint.journeys.model import AdvisorTask, CallWebhook, SendMessage, SetAttribute, SetTag


class EffectContext(BaseModel):
    """The run's entry payload and the A/B variants it was given, as the effect was queued."""

    model_config = ConfigDict(extra="forbid")

    payload: dict[str, Any] = Field(default_factory=dict)
    variants: dict[str, Any] = Field(default_factory=dict)


class SendEffect(SendMessage):
    """A message to send: a template rendered at dispatch with `context`, or an inline log note whose text
    was rendered when the run passed the node (`content`)."""

    content: str | None = None
    context: EffectContext | None = None

    @property
    def inline(self) -> bool:
        """Whether this is an inline note for the log channel (recorded, never sent)."""
        return self.content is not None


class SetTagEffect(SetTag):
    """Set a value of an imported tag for the customer."""


class SetAttributeEffect(SetAttribute):
    """Set a profile attribute of the customer."""


class WebhookEffect(CallWebhook):
    """POST the run's customer, journey, node and `context` as signed JSON to the action's URL."""

    context: EffectContext = Field(default_factory=EffectContext)


class AdvisorTaskEffect(AdvisorTask):
    """Create an advisor task for the run's customer, its texts rendered with `context` when dispatched."""

    context: EffectContext = Field(default_factory=EffectContext)


Effect = Annotated[
    SendEffect | SetTagEffect | SetAttributeEffect | WebhookEffect | AdvisorTaskEffect,
    Field(discriminator="kind"),
]
_EFFECT: TypeAdapter[Effect] = TypeAdapter(Effect)
_OPTIONAL = ("content", "context")  # left out of the stored JSON when the kind of effect has none


def parse_effect(payload: Any) -> Effect:
    """The typed effect of an outbox row's JSON (pydantic's ValidationError when it is not one)."""
    return _EFFECT.validate_python(payload)


def effect_json(effect: Effect) -> dict[str, Any]:
    """The effect as the outbox stores it: plain JSON (a date becomes its ISO text), without the optional
    parts this effect does not have."""
    dumped: dict[str, Any] = effect.model_dump(mode="json")
    for name in _OPTIONAL:
        if name in dumped and dumped[name] is None:
            del dumped[name]
    return dumped


def effect_of(action: Any, *, content: str | None = None, context: EffectContext | None = None) -> Effect:
    """The effect a journey action queues, with the note's rendered `content` or the run's `context`."""
    fields = action.model_dump()
    if content is not None:
        fields["content"] = content
    if context is not None:
        fields["context"] = context
    return parse_effect(fields)
