"""Begin, End and Condition: the blocks that shape the path a record takes, in a workflow over
SaaS users or over people (a condition's rule tests the fields of the workflow's object)."""

from __future__ import annotations

import functools
from typing import ClassVar

from inventory.errors import RuleError
from inventory.rules import Rule, evaluate, parse_rule
from workflows.context import Record, RunContext
from workflows.objects import OBJECTS, rule_fields
from workflows.registry import SUCCESS, Block, CheckEnv, Registry, Result

EVERY_OBJECT = frozenset(OBJECTS)

__all__ = ["Begin", "Condition", "End", "register"]


class Begin(Block):
    """Where every record starts; the workflow's trigger and criteria choose the records."""

    type = "begin"
    exits: ClassVar[tuple[str, ...]] = (SUCCESS,)
    objects = EVERY_OBJECT

    def describe(self, ctx: RunContext, record: Record) -> str:
        """Begin does nothing to the record."""
        return "matched the criteria"

    def run(self, ctx: RunContext, record: Record) -> Result:
        """Every selected record passes."""
        return Result.success("matched the criteria")


class End(Block):
    """Where a record's path ends; a workflow may have several."""

    type = "end"
    exits: ClassVar[tuple[str, ...]] = ()
    objects = EVERY_OBJECT

    def describe(self, ctx: RunContext, record: Record) -> str:
        """End does nothing to the record."""
        return "done"

    def run(self, ctx: RunContext, record: Record) -> Result:
        """The path is complete."""
        return Result.success("done")


class Condition(Block):
    """Test the record against a rule: success when it holds, failure when it does not."""

    type = "condition"
    keys = frozenset({"rule"})
    objects = EVERY_OBJECT

    @functools.cached_property
    def rule(self) -> Rule:
        """The block's rule, parsed once (over the fields of the workflow's object)."""
        return parse_rule(self.spec.get("rule"), rule_fields(self.spec.object))

    def check(self, env: CheckEnv) -> list[str]:
        """The rule must parse and name only fields of the workflow's object."""
        if self.spec.get("rule") is None:
            return ['needs a "rule", such as {"field": "role", "op": "eq", "value": "admin"}']
        try:
            parse_rule(self.spec.get("rule"), rule_fields(self.spec.object, env.custom_fields))
        except RuleError as exc:
            return [str(exc)]
        return []

    def describe(self, ctx: RunContext, record: Record) -> str:
        """A condition only reads the record."""
        return "would test the rule"

    def run(self, ctx: RunContext, record: Record) -> Result:
        """Success when the rule holds for the record now."""
        if evaluate(self.rule, record.data(), ctx.now):
            return Result.success("rule holds")
        return Result.failure("rule does not hold")


def register(registry: Registry) -> None:
    """Register Begin, End and Condition."""
    for cls in (Begin, End, Condition):
        registry.add_block(cls)
