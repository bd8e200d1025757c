"""The Jinja sandbox message templates render in, with hard resource limits.

Jinja's own sandbox stops a template from reaching Python's internals, not from exhausting memory:
`'x'.zfill(10**9)`, `'%999999999s' % 1`, `'{:>999999999}'.format(1)`, `s|center(10**9)` or a chain of
`{% set b = a ~ a %}` each build a string of gigabytes before anything could measure it. Here every step
that can build a large value checks, *before building it*, that the result stays within `MAX_TEXT`
characters — operators, filters, string methods, `~`, `range`, loops, and the buffers of `{% set %}` blocks,
macros and `{% filter %}` blocks — and every value a step returns is measured again. A rendering also takes
at most `MAX_STEPS` steps (calls, operators, filters, outputs, loop iterations), so that a template cannot
loop for minutes either. A refusal is a `LimitExceeded`, a `SecurityError`: the template's fault, named.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from itertools import chain
from string import Formatter
from typing import Any, cast

from jinja2 import nodes, pass_eval_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg

from touchpoint.channels.model import MAX_MESSAGE_CHARS

MAX_TEXT = MAX_MESSAGE_CHARS  # characters any value, block or message of a template may have
MAX_INT_DIGITS = 4_300  # Python will not print a longer integer anyway
MAX_RANGE = 1_000  # numbers one range() may give
MAX_PIECES = 1_000  # groups the slice filter may cut a list into
MAX_STEPS = 200_000  # calls, operators, filters, outputs and loop iterations in one rendering
DROPPED_FILTERS = frozenset({"pprint"})  # a debugging aid whose output grows with nesting depth
DROPPED_GLOBALS = ("namespace", "lipsum", "cycler", "joiner")  # state across a loop, or text by the megabyte
_END = object()
_DIGITS = re.compile(r"\d+")
_PRINTF = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")
_STEPS: ContextVar[list[int] | None] = ContextVar("template_steps", default=None)


class LimitExceeded(SecurityError):
    """A template step would build a value, a block or a message over the limits."""


# Measuring -------------------------------------------------------------------------------------------------


def text_size(value: Any, cap: int = MAX_TEXT) -> int:
    """An upper estimate of `len(str(value))`, counted without building that text; the count stops soon after
    it passes `cap` (so measuring costs at most about `cap` steps, whatever the value)."""
    if isinstance(value, str):
        return len(value)
    total = 0
    pending: list[Iterator[Any]] = [iter((value,))]
    while pending:
        item = next(pending[-1], _END)
        if item is _END:
            pending.pop()
            continue
        total += _own_size(item)
        if total > cap:
            return total
        children = _children(item)
        if children is not None:
            pending.append(children)
    return total


def _own_size(item: Any) -> int:
    """What a value adds to a text by itself (a container: its brackets; each item: a separator)."""
    if isinstance(item, str):
        return len(item) + 4  # quotes and a separator
    if isinstance(item, bytes | bytearray):
        return 4 * len(item) + 5  # escapes
    if isinstance(item, bool) or item is None:
        return 7
    if isinstance(item, int):
        return item.bit_length() * 3 // 10 + 4
    return 8 if isinstance(item, float | Mapping | list | tuple | set | frozenset) else 16


def _children(item: Any) -> Iterator[Any] | None:
    if isinstance(item, str | bytes | bytearray):
        return None
    if isinstance(item, Mapping):
        return chain.from_iterable(item.items())
    if isinstance(item, list | tuple | set | frozenset) or type(item).__name__.startswith("dict_"):
        return iter(cast(Iterable[Any], item))
    return None  # generators, ranges, undefined values, objects: printed short, never expanded here


def refuse_over(size: int, what: str) -> None:
    """Refuse a step whose result would be `size` characters, when that is over the limit."""
    if size > MAX_TEXT:
        raise LimitExceeded(f"{what} longer than {MAX_TEXT} characters")


def check_operands(values: Iterable[Any]) -> None:
    """No step takes a value longer than any message (its text could only be longer again)."""
    for value in values:
        refuse_over(text_size(value), "a value")


def check_result(value: Any) -> Any:
    """Measure what a step returned (a constant factor of its operands at most, once they were checked)."""
    refuse_over(text_size(value), "a result")
    return value


# Steps -----------------------------------------------------------------------------------------------------


@contextmanager
def step_budget(steps: int = MAX_STEPS) -> Iterator[None]:
    """Count the steps of the renderings inside this block, refusing the one past `steps`."""
    token = _STEPS.set([steps])
    try:
        yield
    finally:
        _STEPS.reset(token)


def step() -> None:
    """Spend one step of the current rendering's budget (no budget: compile time, nothing counted)."""
    left = _STEPS.get()
    if left is None:
        return
    left[0] -= 1
    if left[0] < 0:
        raise LimitExceeded(f"the rendering takes more than {MAX_STEPS} steps")


def bounded_loop(iterable: Iterable[Any]) -> Iterator[Any]:
    """What every `{% for %}` iterates: the items, one step each."""
    for item in iterable:
        step()
        yield item


def bounded_range(*args: int) -> range:
    """range() of at most `MAX_RANGE` numbers."""
    numbers = range(*args)
    try:
        count = len(numbers)
    except OverflowError:  # more numbers than an index can hold
        count = MAX_RANGE + 1
    if count > MAX_RANGE:
        raise LimitExceeded(f"range() gives at most {MAX_RANGE} numbers in templates")
    return numbers


class BoundedBuffer(list[str]):
    """The output of a `{% set %}` block, a macro, a `{% filter %}` block or a recursive loop, refused as soon
    as it grows past the limit (Jinja collects it in a list and joins it at the end)."""

    size = 0

    def append(self, piece: str) -> None:
        """Add one piece of output."""
        self._grow(len(piece))
        super().append(piece)

    def extend(self, pieces: Iterable[str]) -> None:
        """Add several pieces of output."""
        pieces = list(pieces)
        self._grow(sum(len(p) for p in pieces))
        super().extend(pieces)

    def _grow(self, size: int) -> None:
        step()
        self.size += size
        refuse_over(self.size, "a block of output")


# Estimates for the steps that can grow a value beyond a constant factor -------------------------------------


def _number(text: str, star: int) -> int:
    """A width or precision in a format: digits, or `*` (taken from the arguments)."""
    if text == "*":
        return star
    return int(text) if text and len(text) <= 7 else (MAX_TEXT + 1 if text else 0)


def printf_size(fmt: str, args: Any) -> int:
    """An upper estimate of `fmt % args`: each conversion prints at most twice the biggest argument plus its
    width and precision."""
    operands = args if isinstance(args, tuple) else (args,)  # a mapping may be printed whole by `%s`
    biggest = max((text_size(o) for o in operands), default=0)
    star = max((abs(o) for o in operands if isinstance(o, int)), default=0)
    total = len(fmt)
    for width, precision in _PRINTF.findall(fmt):
        total += 2 * biggest + 16 + _number(width, star) + _number(precision, star)
        refuse_over(total, "a %-formatted text")
    return total


def format_size(fmt: str, operands: Iterable[Any]) -> int:
    """An upper estimate of `fmt.format(...)`: each field prints at most twice the biggest argument plus the
    numbers of its format spec. A width computed from an argument (`{:{}}`) is refused."""
    biggest = max((text_size(o) for o in operands), default=0)
    total = 0
    for literal, field, spec, _conversion in Formatter().parse(fmt):
        total += len(literal)
        if field is None:
            continue
        if spec and "{" in spec:
            raise LimitExceeded("a width or precision taken from an argument is not allowed in templates")
        total += 2 * biggest + 16 + sum(_number(n, 0) for n in _DIGITS.findall(spec or ""))
        refuse_over(total, "a formatted text")
    return total


def bounded_items(iterable: Any, separator: int) -> list[Any]:
    """The items of what is joined, counted as they come: refused once the joined text would be too long."""
    items: list[Any] = []
    total = 0
    for item in iterable:
        total += text_size(item) + (separator if items else 0)
        refuse_over(total, "a joined text")
        items.append(item)
    return items


def _arg(args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, name: str, default: Any) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0  # anything else fails in the step itself


def _padded(text: Any, width: Any) -> None:
    refuse_over(max(text_size(text), _int(width)), "a padded text")


def _tabs_expanded(text: str | bytes, tabsize: Any) -> None:
    tab = b"\t" if isinstance(text, bytes | bytearray) else "\t"
    refuse_over(len(text) + text.count(tab) * max(_int(tabsize), 0), "a text with tabs expanded")  # type: ignore[arg-type]


def _replaced(text: str | bytes, old: Any, new: Any, count: Any) -> None:
    if not isinstance(old, str | bytes | bytearray) or not isinstance(new, str | bytes | bytearray):
        return  # fails in the step itself
    found = text.count(old) if old else len(text) + 1  # type: ignore[arg-type]
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    refuse_over(len(text) + found * max(0, len(new) - len(old)), "a replaced text")


def _translated(text: str, table: Any) -> None:
    if isinstance(table, Mapping):
        longest = max((text_size(v) for v in table.values()), default=1)
        refuse_over(len(text) * max(longest, 1), "a translated text")


Call = tuple[tuple[Any, ...], dict[str, Any]]


def _text_method(receiver: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
    """Check a call of a str/bytes method that can grow its text; the arguments to call it with (a joined
    iterable is read once, here)."""
    if name in ("zfill", "ljust", "rjust", "center"):
        _padded(receiver, _arg(args, kwargs, 0, "width", 0))
    elif name == "expandtabs":
        _tabs_expanded(receiver, _arg(args, kwargs, 0, "tabsize", 8))
    elif name == "replace":
        _replaced(
            receiver,
            _arg(args, kwargs, 0, "old", ""),
            _arg(args, kwargs, 1, "new", ""),
            _arg(args, kwargs, 2, "count", -1),
        )
    elif name == "join" and args:
        return (bounded_items(args[0], len(receiver)), *args[1:]), kwargs
    elif name in ("format", "format_map") and isinstance(receiver, str):
        operands = list(args) + list(kwargs.values())
        format_size(receiver, operands)
    elif name == "translate" and isinstance(receiver, str) and args:
        _translated(receiver, args[0])
    return args, kwargs


def guard_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
    """Check a method call whose result could outgrow its operands (`'x'.zfill(10**9)`, `(1).to_bytes(10**9,
    'big')`, `'{:>999999999}'.format(1)`); other calls pass unchanged."""
    method = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format to use its formatter
    receiver = getattr(method, "__self__", None)
    name = getattr(method, "__name__", "")
    if isinstance(receiver, str | bytes | bytearray):
        return _text_method(receiver, name, args, kwargs)
    if isinstance(receiver, int) and name == "to_bytes":
        refuse_over(4 * _int(_arg(args, kwargs, 0, "length", 1)), "a byte string")
    return args, kwargs


# Filters ---------------------------------------------------------------------------------------------------

FilterLimit = Callable[[Any, tuple[Any, ...], dict[str, Any]], Any]


def _center(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _padded(value, _arg(args, kwargs, 0, "width", 80))
    return value


def _indent(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    width = _arg(args, kwargs, 0, "width", 4)
    prefix = len(width) if isinstance(width, str) else max(_int(width), 0)
    text = str(value)
    refuse_over(len(text) + (len(text.splitlines()) + 1) * prefix, "an indented text")
    return value


def _wordwrap(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    text = str(value)
    width = max(_int(_arg(args, kwargs, 0, "width", 79)), 1)
    wrapstring = _arg(args, kwargs, 2, "wrapstring", None) or "\n"
    lines = len(text) // width + len(text.split()) + text.count("\n") + 1
    refuse_over(len(text) + lines * text_size(wrapstring), "a wrapped text")
    return value


def _replace(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    old, new = _arg(args, kwargs, 0, "old", ""), _arg(args, kwargs, 1, "new", "")
    _replaced(str(value), str(old), str(new), _arg(args, kwargs, 2, "count", None))
    return value


def _join(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return bounded_items(value, text_size(_arg(args, kwargs, 0, "d", "")))


def _filled(value: Any, count: Any, fill: Any) -> None:
    """Batches or slices padded with `fill`: `count` copies of it at most."""
    if fill is not None:
        refuse_over(text_size(value) + max(_int(count), 0) * (text_size(fill) + 4), "a padded list")


def _batch(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    _filled(value, _arg(args, kwargs, 0, "linecount", 0), _arg(args, kwargs, 1, "fill_with", None))
    return value


def _slice(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    slices = _arg(args, kwargs, 0, "slices", 0)
    if _int(slices) > MAX_PIECES:
        raise LimitExceeded(f"slice() cuts a list into at most {MAX_PIECES} pieces in templates")
    _filled(value, slices, _arg(args, kwargs, 1, "fill_with", None))
    return value


def _format(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    printf_size(str(value), kwargs or args)
    return value


def _urlize(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    text = str(value)
    extra = text_size(_arg(args, kwargs, 2, "target", "")) + text_size(_arg(args, kwargs, 3, "rel", ""))
    refuse_over(3 * len(text) + (len(text) // 4 + 1) * (extra + 64), "a text with links")
    return value


def _tojson(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    indent = _arg(args, kwargs, 0, "indent", None)
    width = len(indent) if isinstance(indent, str) else _int(indent)
    refuse_over(6 * text_size(value) * (1 + max(width, 0)), "a JSON text")
    return value


def _list(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if isinstance(value, str):
        refuse_over(4 * len(value), "a list of characters")
    return value


FILTER_LIMITS: dict[str, FilterLimit] = {
    "center": _center,
    "indent": _indent,
    "wordwrap": _wordwrap,
    "replace": _replace,
    "join": _join,
    "batch": _batch,
    "slice": _slice,
    "format": _format,
    "urlize": _urlize,
    "tojson": _tojson,
    "list": _list,
}


def bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that takes no value over the limit, checks its growth before running (when it can grow more
    than a constant factor) and measures what it returns."""
    offset = 1 if _PassArg.from_obj(function) is not None else 0  # the context Jinja passes first
    limit = FILTER_LIMITS.get(name)

    @wraps(function)  # keeps Jinja's pass_context / pass_environment marks
    def bounded(*args: Any, **kwargs: Any) -> Any:
        step()
        head, value, rest = args[:offset], args[offset], args[offset + 1 :]
        check_operands((value, *rest, *kwargs.values()))
        if limit is not None:
            value = limit(value, rest, kwargs)
        return check_result(function(*head, value, *rest, **kwargs))

    return bounded


# The environment -------------------------------------------------------------------------------------------


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator with three changes: `~` joins through the environment's bounded join, output
    buffers are `BoundedBuffer`s, and every loop iterates through `bounded_loop`."""

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        """Wrap each loop's iterable before the code is generated (its symbols are read from the tree)."""
        for loop in node.find_all(nodes.For):
            wrapped = nodes.Call(nodes.EnvironmentAttribute("bounded_loop"), [loop.iter], [], None, None)
            loop.iter = wrapped.set_lineno(loop.lineno).set_environment(self.environment)
        super().visit_Template(node, frame)

    def buffer(self, frame: Frame) -> None:
        """Collect a block's output in a list that refuses to grow past the limit."""
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.bounded_buffer()")

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        """`a ~ b`: measured before the pieces are joined."""
        if frame.eval_ctx.volatile:
            markup = "context.eval_ctx.volatile"
        else:
            markup = "True" if frame.eval_ctx.autoescape else "False"
        self.write("environment.bounded_join((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write(f"), {markup})")


@pass_eval_context  # also keeps Jinja from evaluating outputs at compile time, where nothing is bounded
def _finalize(_eval_ctx: EvalContext, value: Any) -> Any:
    """Every `{{ … }}`: measured before it is turned into text."""
    step()
    refuse_over(text_size(value), "an output")
    return value


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, every string- and list-building step bounded (see the module docstring)."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    bounded_buffer = BoundedBuffer
    bounded_loop = staticmethod(bounded_loop)

    def __init__(self, **options: Any) -> None:
        # No constant folding: Jinja would run filters and joins at compile time, outside every bound.
        super().__init__(optimized=False, finalize=_finalize, **options)
        self.filters = {
            name: bounded_filter(name, function)
            for name, function in self.filters.items()
            if name not in DROPPED_FILTERS
        }
        for name in DROPPED_GLOBALS:
            self.globals.pop(name, None)
        self.globals["range"] = bounded_range

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Refuse powers; check repetitions, sums and %-formatting before they are built."""
        step()
        if operator == "**":
            raise SecurityError("the power operator is not allowed in templates")
        check_operands((left, right))
        if operator == "*":
            _check_product(left, right)
        elif operator == "+" and not isinstance(left, int | float):
            refuse_over(text_size(left) + text_size(right), "a sum")
        elif operator == "%" and isinstance(left, str):
            printf_size(left, right)
        return check_result(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Every call from a template (methods, macros, globals, loops): operands and growth checked first,
        the result measured."""
        step()
        check_operands(chain(args, kwargs.values()))
        args, kwargs = guard_call(__obj, args, kwargs)
        return check_result(super().call(__context, __obj, *args, **kwargs))

    def bounded_join(self, pieces: tuple[Any, ...], markup: bool) -> str:
        """`a ~ b ~ …`, refused before joining when the text would be too long."""
        step()
        total = 0
        for piece in pieces:
            total += text_size(piece)
            refuse_over(total, "a joined text")
        joined = markup_join(pieces) if markup else str_join(pieces)
        check_result(joined)
        return joined


def _check_product(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if (left.bit_length() + right.bit_length()) * 3 // 10 > MAX_INT_DIGITS:
            raise LimitExceeded(f"a number with more than {MAX_INT_DIGITS} digits")
        return
    for seq, times in ((left, right), (right, left)):
        repeated = isinstance(seq, str | bytes | list | tuple) and isinstance(times, int)
        if repeated and text_size(seq) * max(times, 0) > MAX_TEXT:
            raise LimitExceeded(f"a repetition longer than {MAX_TEXT} characters")
