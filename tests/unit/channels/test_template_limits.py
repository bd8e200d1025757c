"""Templates with hard resource limits: every step that builds a string or a list refuses, before building
it, a result longer than any message — and the content check refuses a template that can grow past it.

Each vector renders under tracemalloc: the refusal must come while memory stays within tens of megabytes
(before this limit, `zfill`, `%`-formatting and `~` doubling built strings of hundreds of megabytes to
gigabytes before the size was checked)."""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest

from touchpoint.channels.model import TemplateDef
from touchpoint.channels.sandbox import MAX_STEPS, text_size
from touchpoint.channels.templates import (
    MAX_OUTPUT,
    Known,
    TemplateRenderError,
    check,
    render,
    sample_context,
)
from touchpoint.config import ChannelPolicy

PEAK_LIMIT = 50 * 1024 * 1024  # bytes: a refused template costs at most tens of megabytes
GIGA = 1_000_000_000
KNOWN = Known(
    customer=frozenset({"name"}), tags=frozenset(), indicators=frozenset(), product=frozenset({"name"})
)
SERVICE = {"name": "n", "title": "t", "channel": "push", "classification": "service"}

# name → (template body, words the refusal names)
VECTORS: dict[str, tuple[str, str]] = {
    "concat doubling": (
        "{% set a = 'x' * 100000 %}{% set b = a ~ a %}{% set c = b ~ b %}{% set d = c ~ c %}{{ d }}",
        "a joined text longer than 200000",
    ),
    "concat of many": ("{% set a = 'x' * 150000 %}{{ a ~ a ~ a ~ a ~ a ~ a ~ a ~ a }}", "a joined text"),
    "html concat": ("<p>{% set a = '<' * 150000 %}{{ a ~ a }}</p>", "a joined text"),
    "str repetition": (f"{{{{ 'x' * {GIGA} }}}}", "a repetition longer than 200000"),
    "printf pattern repeated": (f"{{{{ '%s' * {GIGA} }}}}", "a repetition"),
    "list repetition": (f"{{{{ ['x'] * {GIGA} }}}}", "a repetition"),
    "nested list repetition": ("{% set a = ['x' * 1000] * 100 %}{{ (a * 1000)|length }}", "a repetition"),
    "tuple repetition as printf args": (
        "{% set f = '%s' * 50000 %}{{ f % (('y' * 1000,) * 50000) }}",
        "a repetition",
    ),
    "sum doubling": (
        "{% set a = 'x' * 100000 %}{% set b = a + a %}{% set c = b + b %}{{ c }}",
        "a sum longer",
    ),
    "list sum doubling": ("{% set a = ['x' * 1000] * 150 %}{% set b = a + a %}{{ b|length }}", "a sum"),
    "printf width": (f"{{{{ '%{GIGA}s' % 'x' }}}}", "a %-formatted text"),
    "printf star width": (f"{{{{ '%*d' % ({GIGA}, 1) }}}}", "a %-formatted text"),
    "printf precision": (f"{{{{ '%.{GIGA}f' % 1.5 }}}}", "a %-formatted text"),
    "printf many fields": ("{% set f = '%s' * 1000 %}{{ f % (('y' * 150,) * 1000) }}", "%-formatted"),
    "format filter": (f"{{{{ '%0{GIGA}d'|format(1) }}}}", "a %-formatted text"),
    "str.format width": (f"{{{{ '{{:>{GIGA}}}'.format(1) }}}}", "a formatted text"),
    "str.format repeated field": ("{{ '{0}{0}{0}{0}{0}'.format('x' * 100000) }}", "a formatted text"),
    "str.format_map": (f"{{{{ '{{a:^{GIGA}}}'.format_map({{'a': 1}}) }}}}", "a formatted text"),
    "str.format computed width": ("{{ '{:{}}'.format(1, 999999999) }}", "taken from an argument"),
    "zfill method": (f"{{{{ 'x'.zfill({GIGA}) }}}}", "a padded text"),
    "ljust method": (f"{{{{ 'x'.ljust({GIGA}, '-') }}}}", "a padded text"),
    "rjust method": (f"{{{{ 'x'.rjust({GIGA}) }}}}", "a padded text"),
    "center method": (f"{{{{ 'x'.center({GIGA}) }}}}", "a padded text"),
    "center filter": (f"{{{{ 'x'|center({GIGA}) }}}}", "a padded text"),
    "expandtabs": (f"{{{{ ('\\t' * 1000).expandtabs({GIGA}) }}}}", "tabs expanded"),
    "replace filter": ("{{ ('x' * 100000)|replace('x', 'yyyyy') }}", "a replaced text"),
    "replace method with empty old": ("{{ ('x' * 1000).replace('', 'y' * 1000) }}", "a replaced text"),
    "join filter": ("{{ ['x' * 60000, 'y' * 60000, 'z' * 60000]|join('-' * 30000) }}", "a joined text"),
    "join filter separator": ("{{ range(1000)|join('-' * 1000) }}", "a joined text"),
    "join method": ("{{ ('x' * 1000).join(range(1000)) }}", "a joined text"),
    "join over a generator": ("{{ range(1000)|map('center', 1000)|join }}", "a joined text"),
    "indent": (f"{{{{ ('a\\n' * 1000)|indent({GIGA}) }}}}", "an indented text"),
    "indent by a string": ("{{ ('a\\n' * 1000)|indent('-' * 1000) }}", "an indented text"),
    "wordwrap": ("{{ ('ab ' * 50000)|wordwrap(1, wrapstring='x' * 100) }}", "a wrapped text"),
    "truncate of a value over the limit": (
        "{{ payload.big|truncate(10) }}",
        "a value longer than 200000",
    ),
    "batch fill": (f"{{{{ [1]|batch({GIGA}, 'x')|list }}}}", "a padded list"),
    "slice": (f"{{{{ [1]|slice({GIGA})|list }}}}", "at most 1000 pieces"),
    "slice fill": ("{{ ['x' * 1000] * 10|slice(1000, 'y' * 1000)|list }}", "a padded list"),
    "tojson indent": (f"{{{{ ['x' * 1000] * 10|tojson(indent={GIGA}) }}}}", "a JSON text"),
    "urlize target": ("{{ ('a.cn ' * 20000)|urlize(target='x' * 1000) }}", "a text with links"),
    "translate": ("{{ ('x' * 1000).translate({120: 'y' * 1000}) }}", "a translated text"),
    "to_bytes": (f"{{{{ (1).to_bytes({GIGA}, 'big') }}}}", "a byte string"),
    "range": (f"{{{{ range({GIGA})|list }}}}", "range() gives at most"),
    "range past an index": ("{{ range(10 * 10000000000000000000000)|list }}", "range() gives at most"),
    "power": ("{{ 2 ** 100000000 }}", "power operator"),
    "number squaring": (
        "{% set a = 99999999999999999999 * 99999999999999999999 %}" + "{% set a = a * a %}" * 8 + "{{ a }}",
        "more than 4300 digits",
    ),
    "set block": (
        "{% set a %}{% for i in range(1000) %}{{ 'x' * 100000 }}{% endfor %}{% endset %}{{ a|length }}",
        "a block of output",
    ),
    "macro": (
        "{% macro m() %}{% for i in range(1000) %}{{ 'x' * 1000 }}{% endfor %}{% endmacro %}{{ m() }}",
        "a block of output",
    ),
    "filter block": (
        "{% filter upper %}{% for i in range(1000) %}{{ 'x' * 1000 }}{% endfor %}{% endfilter %}",
        "a block of output",
    ),
    "nested references printed": (
        "{% set a = ['x' * 100000] %}{% set b = [a, a, a, a] %}{% set c = [b, b, b, b] %}{{ c }}",
        "an output longer",
    ),
    "nested references as string": (
        "{% set a = ['x' * 100000] %}{% set b = [a, a, a, a] %}{{ b|string }}",
        "a value longer",
    ),
    "message": ("{% for i in range(1000) %}{{ 'x' * 199999 }}{% endfor %}", "the message grows past"),
    "macro fan-out": (
        "{% macro m(n) %}{% if n > 0 %}{{ m(n - 1) }}{{ m(n - 1) }}{% endif %}{% endmacro %}{{ m(40) }}",
        f"more than {MAX_STEPS} steps",
    ),
    "steps": (
        "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
        f"more than {MAX_STEPS} steps",
    ),
}


def _render_measured(body: str, context: dict[str, Any]) -> tuple[TemplateRenderError, int]:
    template = TemplateDef.model_validate({**SERVICE, "body": body})
    tracemalloc.start()
    try:
        with pytest.raises(TemplateRenderError) as caught:
            render(template, context)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return caught.value, peak


@pytest.mark.parametrize("vector", sorted(VECTORS))
def test_each_growing_step_is_refused_before_it_builds(vector: str) -> None:
    body, named = VECTORS[vector]
    context = {**sample_context(), "payload": {"big": "x" * (MAX_OUTPUT + 1)}}
    refusal, peak = _render_measured(body, context)
    assert refusal.security, str(refusal)
    assert named in str(refusal)
    assert peak < PEAK_LIMIT, f"{vector}: peak {peak / 1e6:.0f} MB"


def test_what_stays_within_the_limit_still_renders() -> None:
    body = (
        "{{ 'x'.zfill(5) }}|{{ '%05d' % 3 }}|{{ '{:>4}'.format(1) }}|{{ 'ab'|center(6) }}|"
        "{{ [1, 2]|join(',') }}|{{ 'a b'|replace(' ', '_') }}|{{ 'x' * 3 ~ 'y' }}|{{ range(3)|list }}|"
        "{% set s %}{{ customer.name }}!{% endset %}{{ s }}|{{ [1, 2, 3]|batch(2, 0)|list }}|"
        "{{ 'a\\nb'|indent(2) }}|{{ '%s-%s'|format(1, 2) }}|{{ {'a': 1}|tojson }}"
    )
    template = TemplateDef.model_validate({**SERVICE, "body": body})
    assert render(template, sample_context()).body == (
        '0000x|00003|   1|  ab  |1,2|a_b|xxxy|[0, 1, 2]|示例值六个字!|[[1, 2], [3, 0]]|a\n  b|1-2|{"a": 1}'
    )


def test_text_size_is_an_upper_estimate_that_stops_early() -> None:
    nested: list[Any] = ["x" * 1000]
    for _ in range(30):
        nested = [nested, nested]  # 2**30 references to one string: printed, it would be terabytes
    assert text_size(nested) > MAX_OUTPUT  # and measuring it stopped soon after the limit
    for value in ("abc", ["ab", 1, None], {"k": [1.5, b"x"]}, 10**50):
        assert text_size(value) >= len(str(value))


def _faults(body: str) -> list[str]:
    template = TemplateDef.model_validate({**SERVICE, "body": body})
    return check(template, policy=ChannelPolicy(max_lengths={}), known=KNOWN)  # growth, not lengths


def test_the_content_check_refuses_what_can_grow_past_the_limit() -> None:
    hidden = f"{{% if customer.name == 'zz' %}}{{{{ 'x'.zfill({GIGA}) }}}}{{% endif %}}"
    assert _faults(hidden) == [f"body: sandbox: the number {GIGA} is larger than any message ({MAX_OUTPUT})"]
    assert _faults("{% if customer.name == 'zz' %}{{ 2 ** 10 }}{% endif %}") == [
        "body: sandbox: the power operator is not allowed in templates"
    ]
    assert _faults(f"{{% if customer.name == 'zz' %}}{{{{ '%{GIGA}s' % 1 }}}}{{% endif %}}") == [
        "body: sandbox: the format '%1000000000s' pads or cuts beyond any message"
    ]
    assert _faults("{{ customer.name * 300 }}") == [
        "body: sandbox refused: a repetition longer than 200000 characters (with values of 1000 characters)"
    ]
    assert _faults("{% if customer.name|length > 1000000 %}x{% endif %}") == []  # a comparison is fine
    assert _faults("{{ customer.name * 3 }}") == []


def test_sources_that_do_not_parse_are_named_not_crashed_on() -> None:
    assert _faults("{{ 1" + "0" * 5000 + " }}")[0].startswith("body: does not parse: Exceeds the limit")
    assert _faults("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}") == [
        "body: does not parse: nested too deeply"
    ]
    assert _faults("{{ customer.name|pprint }}") == [
        "body: does not parse: No filter named 'pprint'. (line 1)"
    ]
