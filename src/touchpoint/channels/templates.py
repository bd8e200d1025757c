"""Templates: Jinja in its immutable sandbox, the content check that gates activation, rendering for one
customer, and the link tracker's rewriting. Pure: what the stores know is passed in."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from touchpoint.channels.model import NEEDS_PROVIDER_TEMPLATE, TemplateDef
from touchpoint.config import ChannelPolicy

_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
ROOTS = ("customer", "tags", "indicators", "payload", "product", "customer_no", "unsubscribe_url")
LINK = re.compile(r"https?://[^\s<>\"'（）()【】，。]+")
PRIVATE = re.compile(r"^_")
SAMPLE = "示例值六个字"  # six characters: a stand-in of typical length when checking message lengths


@dataclass(frozen=True)
class Known:
    """The names a template may use under each root; None means any name (the entry payload)."""

    customer: frozenset[str]
    tags: frozenset[str]
    indicators: frozenset[str]
    product: frozenset[str]

    def allows(self, root: str, name: str) -> bool:
        """Whether `root.name` resolves."""
        allowed: frozenset[str] | None = getattr(self, root, None) if root != "payload" else None
        return allowed is None or name in allowed


@dataclass
class Rendered:
    """A template rendered for one customer."""

    subject: str
    body: str
    url: str | None
    params: dict[str, str] = field(default_factory=dict)


class TemplateRenderError(ValueError):
    """The template cannot be rendered for this customer (a missing payload key, a sandbox refusal)."""


@lru_cache(maxsize=1024)
def compiled(text: str) -> Template:
    """A template text compiled once."""
    return _ENV.from_string(text)


def parse_fault(text: str) -> str | None:
    """Why a text does not parse as a template, or None."""
    try:
        _ENV.parse(text)
    except TemplateSyntaxError as exc:
        return f"does not parse: {exc.message} (line {exc.lineno})"
    return None


# The content check -----------------------------------------------------------------------------------------


def check(template: TemplateDef, *, policy: ChannelPolicy, known: Known) -> list[str]:
    """Every reason this template may not be activated, each naming its place; empty when it may."""
    faults: list[str] = []
    texts = template.texts()
    for place, text in texts.items():
        fault = parse_fault(text)
        if fault:
            faults.append(f"{place}: {fault}")
            continue
        faults += [f"{place}: {f}" for f in _variable_faults(text, known)]
    faults += _banned_word_faults(texts, policy.banned_words)
    faults += _disclosure_faults(template, texts, policy.disclosures)
    faults = list(dict.fromkeys(faults))  # a private name can be caught twice (as text and as member)
    if template.channel in NEEDS_PROVIDER_TEMPLATE and not template.provider_template_id:
        faults.append(f"provider_template_id: a {template.channel} template needs the gateway's template id")
    if not faults:
        faults += _length_faults(template, policy)
    return faults


def _variable_faults(text: str, known: Known) -> list[str]:
    tree = _ENV.parse(text)
    faults: list[str] = []
    for const in tree.find_all(nodes.Const):
        if isinstance(const.value, str) and const.value.startswith("_"):
            faults.append(f"sandbox: access to {const.value!r} is refused")
    for root, name in _members(tree):
        if PRIVATE.match(name):
            faults.append(f"sandbox: access to {name!r} is refused")
        elif root in ROOTS and not known.allows(root, name):
            faults.append(f"unknown variable {root}.{name}")
    assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    for name in sorted({n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"} - assigned):
        if name not in ROOTS and name not in _ENV.globals:
            faults.append(f"unknown variable {name}")
    return faults


def _members(tree: nodes.Template) -> list[tuple[str | None, str]]:
    """Every `x.name` / `x["name"]` with a literal name: the root variable's name (None when `x` is not a
    plain variable) and the member's name."""
    found: list[tuple[str | None, str]] = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            name: str | None = str(node.attr)
        else:
            arg = cast(nodes.Getitem, node).arg
            name = arg.value if isinstance(arg, nodes.Const) and isinstance(arg.value, str) else None
        target = cast(nodes.Getattr, node).node
        if name is not None:
            found.append((target.name if isinstance(target, nodes.Name) else None, name))
    return found


def _banned_word_faults(texts: dict[str, str], banned: Iterable[str]) -> list[str]:
    return [
        f"{place}: banned word {word!r} (金融营销宣传禁用语)"
        for place, text in texts.items()
        for word in banned
        if word and word in text
    ]


def _disclosure_faults(template: TemplateDef, texts: dict[str, str], disclosures: list[str]) -> list[str]:
    names_product = template.product is not None or any(
        root == "product" for text in texts.values() for root, _ in _members(_ENV.parse(text))
    )
    if not names_product:
        return []
    shown = template.body + template.subject + "".join(template.params.values())
    if any(d in shown for d in disclosures):
        return []
    wanted = ", ".join(disclosures)
    return [f"body: a template that names a product must carry a risk disclosure (one of {wanted})"]


def _length_faults(template: TemplateDef, policy: ChannelPolicy) -> list[str]:
    limit = policy.max_lengths.get(template.channel)
    if limit is None:
        return []
    try:
        sample = render(template, sample_context())
    except TemplateRenderError as exc:
        return [f"body: {exc}"]
    faults = []
    pieces = {"body": sample.body, **{f"params.{k}": v for k, v in sample.params.items()}}
    for place, text in pieces.items():
        if len(text) > limit:
            faults.append(
                f"{place}: about {len(text)} characters, over the {template.channel} limit of {limit}"
            )
    return faults


# Rendering -------------------------------------------------------------------------------------------------


class _Sample(dict[str, Any]):
    """Any name resolves to a stand-in value of typical length (length checks before a customer exists)."""

    def __missing__(self, key: str) -> str:
        return SAMPLE


def sample_context() -> dict[str, Any]:
    """A context in which every known variable has a stand-in value."""
    return {
        "customer": _Sample(),
        "tags": _Sample(),
        "indicators": _Sample(),
        "payload": _Sample(),
        "product": _Sample(),
        "customer_no": "C000000000",
        "unsubscribe_url": "https://t.example.cn/u/0123456789ab",
    }


def render(template: TemplateDef, context: dict[str, Any]) -> Rendered:
    """The template's texts rendered with `context`; a refusal or a missing value names its place."""
    return Rendered(
        subject=_render_one("subject", template.subject, context),
        body=_render_one("body", template.body, context),
        url=_render_one("url", template.url, context) if template.url else None,
        params={k: _render_one(f"params.{k}", v, context) for k, v in template.params.items()},
    )


def _render_one(place: str, text: str, context: dict[str, Any]) -> str:
    try:
        return compiled(text).render(**context)
    except SecurityError as exc:
        raise TemplateRenderError(f"{place}: sandbox refused: {exc}") from exc
    except UndefinedError as exc:
        raise TemplateRenderError(f"{place}: {exc.message}") from exc
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(f"{place}: does not parse: {exc.message}") from exc


# Links -----------------------------------------------------------------------------------------------------


def rewrite_links(text: str, shorten: Callable[[str], str]) -> str:
    """Every http(s) link in `text` replaced by what `shorten` makes of it (the tracker's redirect)."""
    return LINK.sub(lambda match: shorten(match.group(0)), text)


def with_utm(url: str, params: dict[str, str]) -> str:
    """The URL with UTM-style parameters added (existing ones kept)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for key, value in params.items():
        query.setdefault(key, value)
    return urlunsplit(parts._replace(query=urlencode(query)))
