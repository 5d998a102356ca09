"""Sandboxed Jinja2 for runbook ``with:`` values and ``when:`` conditions.

Templates come from the runbook (reviewed, in git); values come from alerts and the cluster
(hostile). So: an ``ImmutableSandboxedEnvironment`` (no access to internals such as
``__class__``, no mutating the data), ``StrictUndefined`` (a typo is an error, not an empty
string), size limits on templates and on what they produce, and alert text is only ever
*data*: only the runbook's own strings are compiled, never a rendered value, so an alert field
holding ``{{ ... }}`` is passed on literally (a notify message shows it as written) and cannot
stop the response: a value that must be a Kubernetes name still fails its name check.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from irkit.errors import IrkitError

MAX_TEMPLATE = 4096  # characters of one template in a runbook
MAX_RENDERED = 65536  # characters one template may produce
ROOTS = frozenset({"params", "alert", "steps", "incident"})


class TemplateFailure(IrkitError):
    """A template could not be compiled or rendered; the message says which and why."""

    exit_code = 2


FORBIDDEN_BLOCKS = (
    nodes.For,
    nodes.Macro,
    nodes.CallBlock,
    nodes.Import,
    nodes.FromImport,
    nodes.Include,
    nodes.Extends,
)


class _Env(ImmutableSandboxedEnvironment):
    """The sandbox, plus a cap on ``*`` and ``**``: ``'a' * 10**9`` must not allocate a GB
    before the output-size check sees it."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise TemplateFailure("exponent too large in template")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(n, int)
                    and len(seq) * n > MAX_RENDERED
                ):
                    raise TemplateFailure("repetition too large in template")
        return super().call_binop(context, operator, left, right)


_ENV = _Env(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def check_syntax(source: str) -> None:
    """Compile-time checks. Loops, macros and includes are refused: ``with:`` values are short
    strings, and without them no template can run for long or read other files."""
    if len(source) > MAX_TEMPLATE:
        raise TemplateFailure(f"template longer than {MAX_TEMPLATE} characters")
    try:
        tree = _ENV.parse(source)
    except TemplateError as e:
        raise TemplateFailure(f"template syntax error: {e}") from None
    for block in FORBIDDEN_BLOCKS:
        found = next(tree.find_all(block), None)
        if found is not None:
            name = type(found).__name__.lower()
            raise TemplateFailure(f"'{name}' blocks are not allowed in runbook templates")


def references(source: str, *, expression: bool = False) -> Iterator[tuple[str, ...]]:
    """Dotted names a template reads, e.g. ('params', 'namespace') or ('steps', 'collect',
    'outputs', 'uri'), as far as they are written with plain attribute access."""
    text = f"{{{{ {source} }}}}" if expression else source
    tree = _ENV.parse(text)
    for node in tree.find_all(nodes.Getattr):
        chain: list[str] = []
        cur: nodes.Node = node
        while isinstance(cur, nodes.Getattr):
            chain.append(cur.attr)
            cur = cur.node
        if isinstance(cur, nodes.Name):
            yield (cur.name, *reversed(chain))
    for name in tree.find_all(nodes.Name):
        if name.ctx == "load":
            yield (name.name,)


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """Render every template string inside ``value`` (dicts and lists too)."""
    if isinstance(value, dict):
        return {k: render_value(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, context) for v in value]
    if not is_template(value):
        return value
    template = _compiled(value)
    try:
        out = template.render(**context)
    except TemplateError as e:
        raise TemplateFailure(f"cannot render {value!r}: {e}") from None
    except (ArithmeticError, ValueError, TypeError, RecursionError) as e:
        raise TemplateFailure(f"cannot render {value!r}: {type(e).__name__}: {e}") from None
    if len(out) > MAX_RENDERED:
        raise TemplateFailure(f"{value!r} rendered to more than {MAX_RENDERED} characters")
    return out  # never compiled again: template syntax in it (from alert data) is just text


@functools.lru_cache(maxsize=1024)
def _compiled(source: str) -> Template:
    """Checked and compiled once per text: sources are the runbooks' own strings (a rendered
    value is never compiled), and compiling costs more than rendering (irkit serve renders
    every alert's params)."""
    check_syntax(source)
    try:
        return _ENV.from_string(source)
    except TemplateError as e:  # e.g. an unknown filter, found when compiling
        raise TemplateFailure(f"cannot render {source!r}: {e}") from None


def evaluate(expression: str, context: Mapping[str, Any]) -> bool:
    """A ``when:`` condition, e.g. ``params.scale_down and alert.labels.severity == 'critical'``."""
    check_syntax(f"{{{{ {expression} }}}}")
    try:
        return bool(_ENV.compile_expression(expression, undefined_to_none=False)(**context))
    except TemplateError as e:
        raise TemplateFailure(f"cannot evaluate when: {expression!r}: {e}") from None
    except (ArithmeticError, ValueError, TypeError, RecursionError) as e:
        raise TemplateFailure(
            f"cannot evaluate when: {expression!r}: {type(e).__name__}: {e}"
        ) from None
