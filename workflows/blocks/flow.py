"""Begin, End and Condition: the blocks that shape the path a record takes."""

from __future__ import annotations

import functools
from typing import ClassVar

from inventory.errors import RuleError
from inventory.queries import SAAS_USER_FIELDS
from inventory.rules import Rule, evaluate, parse_rule
from workflows.context import Record, RunContext
from workflows.registry import SUCCESS, Block, CheckEnv, Registry, Result

__all__ = ["Begin", "Condition", "End", "register"]


class Begin(Block):
    """Where every record starts; the workflow's trigger and criteria choose the records."""

    type = "begin"
    exits: ClassVar[tuple[str, ...]] = (SUCCESS,)

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

    @functools.cached_property
    def rule(self) -> Rule:
        """The block's rule, parsed once."""
        return parse_rule(self.spec.get("rule"), SAAS_USER_FIELDS)

    def check(self, env: CheckEnv) -> list[str]:
        """The rule must parse and name only SaaS-user fields."""
        if self.spec.get("rule") is None:
            return ['needs a "rule", such as {"field": "role", "op": "eq", "value": "admin"}']
        try:
            _ = self.rule
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
