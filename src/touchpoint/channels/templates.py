"""Templates: Jinja in its immutable sandbox, the content check that gates activation, rendering for one
customer, and the link tracker's rewriting. Pure: what the stores know is passed in."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError

from touchpoint.channels.model import MAX_MESSAGE_CHARS, NEEDS_PROVIDER_TEMPLATE, TemplateDef
from touchpoint.channels.sandbox import MAX_RANGE, BoundedSandbox, step_budget
from touchpoint.config import ChannelPolicy

MAX_OUTPUT = MAX_MESSAGE_CHARS  # characters: no message is longer; a bigger value is an attack on memory
UNSAFE_FILTERS = frozenset({"attr", "format"})  # reach attributes or format strings by a computed name
UNSAFE_METHODS = frozenset({"format", "format_map", "mro"})
CACHED_TEXT = 10_000  # characters: longer texts are compiled each time, so the cache stays within megabytes
COMMENT = re.compile(r"\{#.*?#\}", re.S)
HTML_TAG = re.compile(r"<[a-zA-Z/!]")
# Widths and precisions in a literal format string: `%0999999s`, `{:>999999}`.
FORMAT_NUMBERS = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\d+)?(?:\.(\d+))?|\{[^{}]*:[^{}\d]*(\d+)(?:\.(\d+))?")
_ENV = BoundedSandbox(undefined=StrictUndefined, autoescape=False)
_HTML = BoundedSandbox(undefined=StrictUndefined, autoescape=True)  # HTML email: values cannot inject markup
ROOTS = ("customer", "tags", "indicators", "payload", "product", "customer_no", "unsubscribe_url")
# A link ends at a space, a quote, CJK punctuation, or a sentence's closing mark (which is not the link's).
LINK = re.compile(r"https?://[^\s<>\"'（）()【】，。！？；：、]+(?<![.,!?;:])")
PRIVATE = re.compile(r"^_")
SAMPLE = "示例值六个字"  # six characters: a stand-in of typical length when checking message lengths
LONG_SAMPLE = "长" * 1_000  # a long value: a template must not grow past the limit with values this long


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

    def texts(self) -> dict[str, str]:
        """Every rendered text by place."""
        found = {
            "subject": self.subject,
            "body": self.body,
            **{f"params.{k}": v for k, v in self.params.items()},
        }
        if self.url:
            found["url"] = self.url
        return found


class TemplateRenderError(ValueError):
    """The template cannot be rendered for this customer (a missing payload key, a sandbox refusal)."""

    def __init__(self, message: str, *, security: bool = False) -> None:
        super().__init__(message)
        self.security = security


def compiled(text: str, html: bool = False) -> Template:
    """A template text compiled (HTML-escaping its values for email); short texts, the usual ones, once."""
    if len(text) > CACHED_TEXT:
        return (_HTML if html else _ENV).from_string(text)
    return _compiled_once(text, html)


@lru_cache(maxsize=1024)
def _compiled_once(text: str, html: bool) -> Template:
    template = (_HTML if html else _ENV).from_string(text)
    # Jinja copies a template's globals into every rendering's context, and through a ChainMap that copy
    # cost twice the rest of rendering a short text; the environments' globals never change once made.
    template.globals = dict(template.globals)
    return template


def variables(text: str) -> frozenset[str]:
    """The top-level names a template text reads (`customer`, `payload` …), so that a caller looks up only
    what the text uses; none for a text that does not parse (rendering it names the fault)."""
    return _variables_of(text) if len(text) > CACHED_TEXT else _variables_once(text)


@lru_cache(maxsize=1024)
def _variables_once(text: str) -> frozenset[str]:
    return _variables_of(text)


def _variables_of(text: str) -> frozenset[str]:
    try:
        return frozenset(meta.find_undeclared_variables(_ENV.parse(text)))
    except (TemplateSyntaxError, RecursionError, ValueError):  # as `parse_fault` reads them
        return frozenset()


def parse_fault(text: str) -> str | None:
    """Why a text does not parse (or compile, e.g. an unknown filter) as a template, or None."""
    try:
        compiled(text)
    except TemplateSyntaxError as exc:
        return f"does not parse: {exc.message} (line {exc.lineno})"
    except RecursionError:
        return "does not parse: nested too deeply"
    except ValueError as exc:  # a literal number of more than 4,300 digits
        return f"does not parse: {exc}"
    return None


# The content check -----------------------------------------------------------------------------------------


def check(template: TemplateDef, *, policy: ChannelPolicy, known: Known) -> list[str]:
    """Every reason this template may not be activated, each naming its place; empty when it may.

    Banned words are looked for in the source and in a rendering with stand-in values (so that a word split by
    an expression or a comment is caught); the risk disclosure must show in that rendering (a disclosure in a
    comment or in a branch that is not taken does not count)."""
    faults: list[str] = []
    texts = template.texts()
    for place, text in texts.items():
        fault = parse_fault(text)
        if fault:
            faults.append(f"{place}: {fault}")
            continue
        faults += [f"{place}: {f}" for f in _variable_faults(text, known)]
    faults += _banned_word_faults(texts, policy.banned_words)
    if template.channel in NEEDS_PROVIDER_TEMPLATE and not template.provider_template_id:
        faults.append(f"provider_template_id: a {template.channel} template needs the gateway's template id")
    if any(f.split(": ", 1)[1].startswith(("does not parse", "sandbox", "unknown variable")) for f in faults):
        return list(dict.fromkeys(faults))  # a rendering would only fail again on the same fault
    try:
        shown = render(template, sample_context()).texts()
    except TemplateRenderError as exc:
        if exc.security:
            return list(dict.fromkeys([*faults, str(exc)]))
        # Stand-in text cannot play every value (a number compared, a list looped): judge the source with
        # its comments taken out; the send-time check sees the real message.
        shown = {place: COMMENT.sub("", text) for place, text in texts.items()}
    else:
        faults += _length_faults(template, shown, policy)
        faults += _growth_faults(template)
    faults += _banned_word_faults(shown, policy.banned_words)
    if names_product(template) and not has_disclosure(shown, policy.disclosures):
        wanted = ", ".join(policy.disclosures)
        faults.append(f"body: a template that names a product must show a risk disclosure (one of {wanted})")
    return list(dict.fromkeys(faults))  # a fault can be caught twice (in the source and in the rendering)


def _variable_faults(text: str, known: Known) -> list[str]:
    tree = _ENV.parse(text)
    faults: list[str] = []
    for const in tree.find_all(nodes.Const):
        if isinstance(const.value, str) and const.value.startswith("_"):
            faults.append(f"sandbox: access to {const.value!r} is refused")
    for flt in tree.find_all(nodes.Filter):
        if flt.name in UNSAFE_FILTERS:
            faults.append(f"sandbox: the {flt.name} filter is not allowed in templates")
    for loop in tree.find_all(nodes.For):
        if any(True for _ in loop.find_all(nodes.For)):
            faults.append("sandbox: a loop inside a loop is not allowed in message templates")
    for call in tree.find_all(nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name == "range" and not _small_range(call):
            faults.append(f"sandbox: range() takes literal numbers up to {MAX_RANGE} in message templates")
    for root, name in _members(tree):
        if PRIVATE.match(name) or name in UNSAFE_METHODS:
            faults.append(f"sandbox: access to {name!r} is refused")
        elif root in ROOTS and not known.allows(root, name):
            faults.append(f"unknown variable {root}.{name}")
    for name in sorted(meta.find_undeclared_variables(tree)):
        if name not in ROOTS and name not in _ENV.globals:
            faults.append(f"unknown variable {name}")
    return faults


def _size_faults(tree: nodes.Template) -> list[str]:
    """What the source alone shows can outgrow any message, wherever it sits (a branch the stand-in values
    do not take is never rendered by the check): powers, literal numbers over the limit given to a call, a
    filter or a repetition, and literal format strings with such a width or precision."""
    faults = ["sandbox: the power operator is not allowed in templates" for _ in tree.find_all(nodes.Pow)]
    for node in tree.find_all((nodes.Call, nodes.Filter, nodes.Mul)):
        if isinstance(node, nodes.Mul):
            operands: list[nodes.Node] = [node.left, node.right]
        else:
            called = cast(nodes.Call, node)  # a Filter has the same args and kwargs
            operands = [*called.args, *(k.value for k in called.kwargs)]
        for const in operands:
            if isinstance(const, nodes.Const) and _over(const.value):
                faults.append(f"sandbox: the number {const.value} is larger than any message ({MAX_OUTPUT})")
    for const in tree.find_all(nodes.Const):
        if isinstance(const.value, str) and any(
            len(n) > 6 or int(n) > MAX_OUTPUT
            for match in FORMAT_NUMBERS.findall(const.value)
            for n in match
            if n
        ):
            faults.append(f"sandbox: the format {const.value[:40]!r} pads or cuts beyond any message")
    return faults


def _over(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_OUTPUT


def _growth_faults(template: TemplateDef) -> list[str]:
    """What can outgrow any message although the rendering with stand-in values did not: the source's
    powers and huge literal numbers (in a branch not taken), and a rendering with long stand-in values
    (`{{ customer.name * 500 }}` fails for a customer with a long name)."""
    faults = [
        f"{place}: {fault}"
        for place, text in template.texts().items()
        for fault in _size_faults(_ENV.parse(text))
    ]
    try:
        render(template, sample_context(LONG_SAMPLE))
    except TemplateRenderError as exc:
        if exc.security:
            faults.append(f"{exc} (with values of {len(LONG_SAMPLE)} characters)")
    return faults


def _small_range(call: nodes.Call) -> bool:
    return all(isinstance(a, nodes.Const) and isinstance(a.value, int) for a in call.args) and all(
        abs(a.value) <= MAX_RANGE for a in call.args if isinstance(a, nodes.Const)
    )


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


def names_product(template: TemplateDef) -> bool:
    """Whether the template is about a product (it declares one, or uses the `product` variable)."""
    return template.product is not None or any(
        "product" in meta.find_undeclared_variables(_ENV.parse(text)) for text in template.texts().values()
    )


def has_disclosure(texts: dict[str, str], disclosures: Iterable[str]) -> bool:
    """Whether one of the risk disclosures shows in these texts."""
    return any(d in text for d in disclosures for text in texts.values())


def _length_faults(template: TemplateDef, shown: dict[str, str], policy: ChannelPolicy) -> list[str]:
    limit = policy.max_lengths.get(template.channel)
    if limit is None:
        return []
    return [
        f"{place}: about {len(text)} characters, over the {template.channel} limit of {limit}"
        for place, text in shown.items()
        if place != "url" and len(text) > limit
    ]


def banned_words_in(rendered: Rendered, banned: Iterable[str]) -> list[str]:
    """Banned words in a message as rendered for a customer (a value from the entry can bring one in)."""
    return sorted({w for text in rendered.texts().values() for w in banned if w and w in text})


# Rendering -------------------------------------------------------------------------------------------------


class _Sample(dict[str, Any]):
    """Any name resolves to a stand-in value (length checks before a customer exists)."""

    def __init__(self, value: str = SAMPLE) -> None:
        super().__init__()
        self.value = value

    def __missing__(self, key: str) -> str:
        return self.value


def sample_context(value: str = SAMPLE) -> dict[str, Any]:
    """A context in which every known variable has a stand-in value (of typical length by default)."""
    return {
        "customer": _Sample(value),
        "tags": _Sample(value),
        "indicators": _Sample(value),
        "payload": _Sample(value),
        "product": _Sample(value),
        "customer_no": "C000000000",
        "unsubscribe_url": "https://t.example.cn/u/0123456789ab",
    }


def render(template: TemplateDef, context: dict[str, Any]) -> Rendered:
    """The template's texts rendered with `context`; a refusal or a missing value names its place."""
    html = template.channel == "email" and bool(HTML_TAG.search(template.body))  # plain text stays plain
    return Rendered(
        subject=_render_one("subject", template.subject, context),
        body=_render_one("body", template.body, context, html=html),
        url=_render_one("url", template.url, context) if template.url else None,
        params={k: _render_one(f"params.{k}", v, context) for k, v in template.params.items()},
    )


def render_text(place: str, text: str, context: dict[str, Any]) -> str:
    """One text (a task's talking points) rendered in the sandbox with `context`, bounded as a message is;
    TemplateRenderError names `place` and the fault."""
    return _render_one(place, text, context)


def _render_one(place: str, text: str, context: dict[str, Any], *, html: bool = False) -> str:
    try:
        rendered = _bounded(compiled(text, html), context)
    except SecurityError as exc:
        raise TemplateRenderError(f"{place}: sandbox refused: {exc}", security=True) from exc
    except UndefinedError as exc:
        raise TemplateRenderError(f"{place}: {exc.message}") from exc
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(f"{place}: does not parse: {exc.message}") from exc
    except Exception as exc:  # 1/0, 'a' + 1 …: the template's fault, named, never a crash or a retry
        raise TemplateRenderError(f"{place}: {type(exc).__name__}: {exc}") from exc
    return rendered


def _bounded(template: Template, context: dict[str, Any]) -> str:
    """Render piece by piece within a budget of steps, stopping as soon as the text outgrows any message
    (each piece is bounded already: see channels/sandbox.py)."""
    pieces: list[str] = []
    size = 0
    with step_budget():
        for piece in template.generate(**context):
            size += len(piece)
            if size > MAX_OUTPUT:
                raise SecurityError(f"the message grows past {MAX_OUTPUT} characters")
            pieces.append(piece)
    return "".join(pieces)


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
