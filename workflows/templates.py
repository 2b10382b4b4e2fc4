"""Templates over a record, rendered in Jinja's immutable sandbox: no code runs, nothing changes.

Templates may read `record` (the SaaS user as `saas-users list --format json` shows it, plus
`id`), `workflow` (its name), `now` (ISO-8601 UTC) and `base_url` (the Lever base URL of the
block's credential). Anything else is a validation problem; an undefined attribute is an error
when the template renders, never an empty string.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["VARIABLES", "TemplateProblem", "check", "check_tree", "render", "render_tree"]

VARIABLES = frozenset({"record", "workflow", "now", "base_url"})
MAX_LENGTH = 10_000


class TemplateProblem(Exception):
    """A template that does not compile, names an unknown variable, or fails to render."""


@functools.cache
def _environment() -> ImmutableSandboxedEnvironment:
    """The one sandbox every template compiles in (built on first use, not at import)."""
    return ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def check(text: Any) -> str | None:
    """Why a template cannot be used, or None when it compiles and reads only known variables."""
    if not isinstance(text, str):
        return f"expected text, got {text!r}"
    if len(text) > MAX_LENGTH:
        return f"longer than {MAX_LENGTH} characters"
    try:
        parsed = _environment().parse(text)
    except TemplateError as exc:
        return f"template does not compile: {exc.message or type(exc).__name__}"
    unknown = sorted(meta.find_undeclared_variables(parsed) - VARIABLES)
    if unknown:
        return (
            f"template reads unknown variable {unknown[0]!r} (use {', '.join(sorted(VARIABLES))})"
        )
    return None


def check_tree(doc: Any, where: str = "") -> list[str]:
    """Problems of every text leaf of a JSON document, each named by its path."""
    if isinstance(doc, str):
        problem = check(doc)
        return [f"{where}: {problem}"] if problem else []
    if isinstance(doc, Mapping):
        return [p for key, value in doc.items() for p in check_tree(value, f"{where}.{key}")]
    if isinstance(doc, list):
        return [p for i, value in enumerate(doc) for p in check_tree(value, f"{where}[{i}]")]
    return []


@functools.lru_cache(maxsize=512)
def _compiled(text: str) -> Template:
    """A compiled template, cached: a run renders the same few templates for every record."""
    return _environment().from_string(text)


def render(text: str, variables: Mapping[str, Any]) -> str:
    """The template rendered with the variables; TemplateProblem when it fails."""
    try:
        return _compiled(text).render(**variables)
    except TemplateError as exc:
        raise TemplateProblem(f"template failed: {exc.message or type(exc).__name__}") from None
    except Exception as exc:  # authors' templates may divide by zero, add text to numbers, …
        raise TemplateProblem(f"template failed: {type(exc).__name__}") from None


def render_tree(doc: Any, variables: Mapping[str, Any]) -> Any:
    """A JSON document with every text leaf rendered as a template (keys are kept as written)."""
    if isinstance(doc, str):
        return render(doc, variables)
    if isinstance(doc, Mapping):
        return {key: render_tree(value, variables) for key, value in doc.items()}
    if isinstance(doc, list):
        return [render_tree(value, variables) for value in doc]
    return doc
