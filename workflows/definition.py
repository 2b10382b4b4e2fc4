"""Workflow definitions: the JSON document authors write, checked before it is saved or activated.

A definition has a name, a description, the object (``saas_users`` or ``people``), a trigger,
criteria (a rule over the object's fields), a run mode (``autopilot`` or ``supervised``), blocks
and edges. `check` lists every problem, one line each, naming the block or section at fault;
`load` turns a valid document into a `Definition` the runner walks, or raises WorkflowInvalid
with the problems.

The object decides what else fits: SaaS-user workflows start on a schedule, by hand, or on a
sync's ``record_created`` / ``record_deactivated``; people workflows on a schedule, by hand, or
on ``person_hired`` / ``person_started``. A people workflow admits only the blocks (and presets)
that can act on a person, and never waits for approval (approvals hold changes to Lever users),
so it runs in autopilot.

The graph rules: exactly one begin block; at least one end block; every exit of every block
connected exactly once (begin has one, ``success``, which an edge may leave unnamed; action
blocks have ``success`` and ``failure``; end has none); no edge into begin; no cycles; every block
reachable from begin and able to reach an end.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connector.schedules import ScheduleError, ScheduleSpec, parse
from inventory.errors import RuleError
from inventory.rules import Rule, parse_rule
from workflows.errors import WorkflowInvalid
from workflows.objects import OBJECTS, PEOPLE, SAAS_USERS, rule_fields
from workflows.registry import (
    COMMON_KEYS,
    MAX_BACKOFF,
    MAX_TRIES,
    SUCCESS,
    Block,
    BlockSpec,
    CheckEnv,
    RetryPolicy,
)

__all__ = [
    "OBJECTS",
    "PERSON_TRIGGERS",
    "RUN_MODES",
    "SYNC_TRIGGERS",
    "TRIGGERS",
    "Definition",
    "Trigger",
    "check",
    "load",
    "parse_trigger",
    "run_modes_for",
    "triggers_for",
]

RUN_MODES = ("autopilot", "supervised")
SYNC_TRIGGERS = ("record_created", "record_deactivated")
PERSON_TRIGGERS = ("person_hired", "person_started")
TRIGGERS = ("schedule", *SYNC_TRIGGERS, "manual", *PERSON_TRIGGERS)
# The event triggers of one object type: a sync's SaaS users, or hires' people.
OBJECT_TRIGGERS = {SAAS_USERS: SYNC_TRIGGERS, PEOPLE: PERSON_TRIGGERS}
SCHEDULE_KINDS = ("daily", "every", "cron")
TOP_KEYS = ("name", "description", "object", "trigger", "criteria", "run_mode", "blocks", "edges")
_ID = re.compile(r"[A-Za-z0-9_.-]{1,100}")


@dataclass(frozen=True)
class Trigger:
    """What starts a workflow: a schedule, a sync event, or a person."""

    type: str
    schedule: ScheduleSpec | None = None


@dataclass
class Definition:
    """A valid workflow, ready to run: blocks by id and where each exit leads."""

    name: str
    description: str | None
    object: str
    trigger: Trigger
    criteria: Rule
    run_mode: str
    blocks: dict[str, Block]
    exits: dict[tuple[str, str], str]
    doc: Mapping[str, Any] = field(repr=False)

    @property
    def begin(self) -> str:
        """The id of the begin block."""
        return next(b.id for b in self.blocks.values() if b.type == "begin")

    def next(self, block_id: str, exit_name: str) -> str | None:
        """Where a record goes after leaving a block by an exit (None after an end)."""
        return self.exits.get((block_id, exit_name))

    @property
    def credentials(self) -> set[str]:
        """The vault credentials the blocks send."""
        names = (b.spec.get("credential") for b in self.blocks.values())
        return {name for name in names if isinstance(name, str)}


class _Checker:
    """Collects the problems of one document while building its parts."""

    def __init__(self, env: CheckEnv) -> None:
        self.env = env
        self.problems: list[str] = []
        self.broken: set[str] = set()  # ids of blocks too malformed to build

    def add(self, where: str, message: str) -> None:
        """Note one problem."""
        self.problems.append(f"{where}: {message}")


def check(doc: Any, env: CheckEnv) -> list[str]:
    """Every problem of a definition, one line each; empty when it is valid."""
    return _build(doc, env)[1]


def load(doc: Any, env: CheckEnv) -> Definition:
    """The definition of a valid document; WorkflowInvalid listing the problems otherwise."""
    definition, problems = _build(doc, env)
    if problems or definition is None:
        raise WorkflowInvalid(problems or ["workflow: not a definition"])
    return definition


def _build(doc: Any, env: CheckEnv) -> tuple[Definition | None, list[str]]:
    """Check every part of the document and assemble it when nothing is wrong."""
    if not isinstance(doc, Mapping):
        return None, ["workflow: expected a JSON object with name, trigger, criteria, blocks…"]
    checker = _Checker(env)
    for key in sorted(set(doc) - set(TOP_KEYS)):
        checker.add("workflow", f"unknown key {key!r} (use {', '.join(TOP_KEYS)})")
    name = _name(checker, doc.get("name"))
    description = _description(checker, doc.get("description"))
    obj = _choice(checker, "object", doc.get("object", SAAS_USERS), OBJECTS)
    run_mode = _run_mode(checker, obj, doc.get("run_mode", "autopilot"))
    trigger = _trigger(checker, obj, doc.get("trigger"))
    criteria = _criteria(checker, obj, doc.get("criteria"))
    blocks = _blocks(checker, obj, doc.get("blocks"))
    exits = _graph(checker, blocks, doc.get("edges"))
    if checker.problems or trigger is None or criteria is None:
        return None, checker.problems
    definition = Definition(name, description, obj, trigger, criteria, run_mode, blocks, exits, doc)
    return definition, []


# -- the simple parts ------------------------------------------------------------------------


# Names that are pages of their own under /workflows/ in the web app.
RESERVED_NAMES = frozenset({"new", "validate"})


def _name(checker: _Checker, name: Any) -> str:
    """A name of 1 to 200 characters that is not one of the web app's own pages.

    A "/" is refused too: the name is one segment of the workflow's web and API addresses.
    """
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        checker.add("name", "missing (give the workflow a name of 1 to 200 characters)")
        return ""
    if name.strip().casefold() in RESERVED_NAMES:
        checker.add("name", f"{name.strip()!r} is reserved by the web app: pick another")
    if "/" in name:
        checker.add("name", "may not contain '/' (the name is part of the workflow's web address)")
    return name.strip()


def _description(checker: _Checker, description: Any) -> str | None:
    """Optional text."""
    if description is not None and not isinstance(description, str):
        checker.add("description", "must be text")
        return None
    return description


def _choice(checker: _Checker, where: str, value: Any, choices: tuple[str, ...]) -> str:
    """One of a few words."""
    if value not in choices:
        checker.add(where, f"{value!r} is not one of {', '.join(choices)}")
        return choices[0]
    return str(value)


def _run_mode(checker: _Checker, obj: str, value: Any) -> str:
    """The run mode; a people workflow makes no change to Lever, so it is never supervised."""
    run_mode = _choice(checker, "run_mode", value, RUN_MODES)
    if run_mode not in run_modes_for(obj):
        checker.add("run_mode", "a people workflow changes no Lever user, so it never waits for "
                                'approval: use "autopilot"')  # fmt: skip
    return run_mode


def run_modes_for(obj: str) -> tuple[str, ...]:
    """The run modes a workflow over the object type may have (people: autopilot only)."""
    return ("autopilot",) if obj == PEOPLE else RUN_MODES


_CRITERIA_EXAMPLES = {
    SAAS_USERS: '{"field": "app", "op": "eq", "value": "Lever"}, or {"all": []} for every SaaS '
    "user",
    PEOPLE: '{"field": "status", "op": "eq", "value": "pre_start"}, or {"all": []} for every '
    "person",
}


def _criteria(checker: _Checker, obj: str, doc: Any) -> Rule | None:
    """The rule choosing the records, over the object's fields."""
    if doc is None:
        checker.add("criteria", f"missing (a rule such as {_CRITERIA_EXAMPLES[obj]})")
        return None
    try:
        return parse_rule(doc, rule_fields(obj, checker.env.custom_fields))
    except RuleError as exc:
        checker.add("criteria", str(exc).removeprefix("rule").lstrip(": ") or str(exc))
        return None


def _trigger(checker: _Checker, obj: str, doc: Any) -> Trigger | None:
    """A checked trigger that fits the object type."""
    try:
        trigger = parse_trigger(doc)
    except ValueError as exc:
        checker.add("trigger", str(exc))
        return None
    if trigger.type not in triggers_for(obj):
        checker.add("trigger", _trigger_misfit(trigger.type))
    return trigger


def triggers_for(obj: str) -> tuple[str, ...]:
    """The triggers a workflow over the object type may have, in TRIGGERS order."""
    theirs = {t for other, events in OBJECT_TRIGGERS.items() if other != obj for t in events}
    return tuple(t for t in TRIGGERS if t not in theirs)


def _trigger_misfit(kind: str) -> str:
    """Why an event trigger does not fit the workflow's object type."""
    if kind in PERSON_TRIGGERS:
        return f'{kind} starts people workflows: set "object": "people" to use it'
    return (f"{kind} starts SaaS-user workflows after a sync: a people workflow starts on "
            f"{', '.join(triggers_for(PEOPLE))}")  # fmt: skip


def parse_trigger(doc: Any) -> Trigger:
    """A trigger document as a Trigger; ValueError names what to fix."""
    if not isinstance(doc, Mapping) or doc.get("type") not in TRIGGERS:
        got = doc.get("type") if isinstance(doc, Mapping) else doc
        raise ValueError(f'"type" {got!r} is not one of {", ".join(TRIGGERS)}')
    if doc["type"] != "schedule":
        extra = sorted(set(doc) - {"type"})
        if extra:
            raise ValueError(f"a {doc['type']} trigger takes no {extra[0]!r}")
        return Trigger(doc["type"])
    return Trigger("schedule", _schedule(doc))


def _schedule(doc: Mapping[str, Any]) -> ScheduleSpec:
    """The schedule of a schedule trigger: exactly one of daily, every, cron; tz optional."""
    extra = sorted(set(doc) - {"type", "tz", *SCHEDULE_KINDS})
    kinds = [kind for kind in SCHEDULE_KINDS if kind in doc]
    if extra or len(kinds) != 1:
        raise ValueError('a schedule needs exactly one of "daily": "HH:MM", "every": "6h" or '
                         '"cron": "M H DOM MON DOW", and optionally "tz"')  # fmt: skip
    tz = doc.get("tz", "UTC")
    if not isinstance(doc[kinds[0]], str) or not isinstance(tz, str):
        raise ValueError(f'"{kinds[0]}" and "tz" must be text')
    try:
        return parse(kinds[0], doc[kinds[0]], tz)
    except ScheduleError as exc:
        raise ValueError(str(exc).replace("--", "")) from None


# -- blocks ----------------------------------------------------------------------------------


def _blocks(checker: _Checker, obj: str, docs: Any) -> dict[str, Block]:
    """Each block, checked by its type and for the object type; problems name the block."""
    if not isinstance(docs, list) or not docs:
        checker.add("blocks", "missing (a list with a begin, action blocks and an end)")
        return {}
    blocks: dict[str, Block] = {}
    for i, doc in enumerate(docs):
        block = _block(checker, i, doc, blocks, obj)
        if block is not None:
            blocks[block.id] = block
    return blocks


def _block(
    checker: _Checker, i: int, doc: Any, seen: Mapping[str, Block], obj: str
) -> Block | None:
    """One block: an id, a registered type, known keys, a retry policy, its own checks, and
    a type (and preset) that can act on the workflow's object."""
    where = f"blocks[{i}]"
    if not isinstance(doc, Mapping) or not isinstance(doc.get("id"), str):
        checker.add(where, 'needs an "id" (letters, digits, "_", "-" or ".")')
        return None
    block_id = doc["id"]
    where = f"block {block_id!r}"
    if not _ID.fullmatch(block_id) or block_id in seen:
        checker.add(where, "the id is used twice" if block_id in seen else "the id may hold only "
                    'letters, digits, "_", "-" or "." (1 to 100)')  # fmt: skip
        return None
    kind = doc.get("type")
    cls = checker.env.registry.blocks.get(kind) if isinstance(kind, str) else None
    if cls is None:
        known = ", ".join(sorted(checker.env.registry.blocks))
        checker.add(where, f"unknown block type {doc.get('type')!r} (use one of {known})")
        checker.broken.add(block_id)
        return None
    for key in sorted(set(doc) - COMMON_KEYS - cls.keys):
        checker.add(where, f"unknown key {key!r} for block type {cls.type!r}")
    retry = _retry(checker, where, doc.get("retry"))
    block = cls(BlockSpec(block_id, cls.type, doc, retry, obj), checker.env.registry)
    refusal = block.refusal(obj)
    if refusal is not None:
        checker.add(where, refusal)
        return block
    for problem in block.check(checker.env):
        checker.add(where, problem)
    return block


def _retry(checker: _Checker, where: str, doc: Any) -> RetryPolicy:
    """A retry policy: tries 1-10 (1 = no retry) and backoff 0-300 seconds."""
    if doc is None:
        return RetryPolicy()
    if not isinstance(doc, Mapping):
        doc = {"tries": None}
    tries, backoff = doc.get("tries", 1), doc.get("backoff", 1.0)
    ok_tries = type(tries) is int and 1 <= tries <= MAX_TRIES
    ok_backoff = type(backoff) in (int, float) and 0 <= backoff <= MAX_BACKOFF
    if not (ok_tries and ok_backoff) or set(doc) - {"tries", "backoff"}:
        checker.add(where, f'"retry" must be {{"tries": 1-{MAX_TRIES}, "backoff": 0-'
                           f'{MAX_BACKOFF:g} seconds}}')  # fmt: skip
        return RetryPolicy()
    return RetryPolicy(int(tries), float(backoff))


# -- the graph -------------------------------------------------------------------------------


def _graph(checker: _Checker, blocks: Mapping[str, Block], docs: Any) -> dict[tuple[str, str], str]:
    """Where each exit leads, after checking the edges and the shape of the whole graph."""
    if not isinstance(docs, list):
        checker.add("edges", 'missing (a list of {"from": ID, "to": ID, "on": "success"})')
        return {}
    exits: dict[tuple[str, str], str] = {}
    for i, doc in enumerate(docs):
        _edge(checker, blocks, i, doc, exits)
    if blocks and not checker.broken:  # the shape of a graph with unknown blocks would mislead
        _check_shape(checker, blocks, exits)
    return exits


def _edge(
    checker: _Checker,
    blocks: Mapping[str, Block],
    i: int,
    doc: Any,
    exits: dict[tuple[str, str], str],
) -> None:
    """One edge: known blocks at both ends, an exit of the source, connected once."""
    if not isinstance(doc, Mapping) or set(doc) - {"from", "to", "on"}:
        checker.add(f"edges[{i}]", 'expected {"from": ID, "to": ID, "on": "success"|"failure"}')
        return
    source, target = _named(blocks, doc.get("from")), _named(blocks, doc.get("to"))
    for end, block in (("from", source), ("to", target)):
        name = doc.get(end)
        if block is None and not (isinstance(name, str) and name in checker.broken):
            checker.add(f"edges[{i}]", f"{end!r} names no block ({doc.get(end)!r})")
    if source is None or target is None:
        return
    exit_name = doc.get("on", SUCCESS if len(source.exits) == 1 else None)
    if not isinstance(exit_name, str) or exit_name not in source.exits:
        checker.add(f"block {source.id!r}", _exit_problem(source, exit_name))
    elif (source.id, exit_name) in exits:
        checker.add(f"block {source.id!r}", f"the {exit_name} exit is connected twice")
    elif target.type == "begin":
        checker.add(f"block {source.id!r}", f"an edge leads back into begin block {target.id!r}")
    else:
        exits[(source.id, exit_name)] = target.id


def _named(found: Mapping[str, Any], name: Any) -> Any:
    """What a name refers to, None for anything that is not a known name."""
    return found.get(name) if isinstance(name, str) else None


def _exit_problem(block: Block, exit_name: Any) -> str:
    """Why an edge cannot leave a block by that exit."""
    if not block.exits:
        return "an end block has no exits"
    if exit_name is None:
        return f'an edge from it needs "on": one of {", ".join(block.exits)}'
    return f"unknown exit {exit_name!r} (use {', '.join(block.exits)})"


def _check_shape(
    checker: _Checker, blocks: Mapping[str, Block], exits: Mapping[tuple[str, str], str]
) -> None:
    """One begin, an end, every exit connected, no cycle, everything on a begin-to-end path."""
    begins = [b.id for b in blocks.values() if b.type == "begin"]
    if not begins:
        checker.add("workflow", 'no begin block (add {"id": "begin", "type": "begin"})')
    for extra in begins[1:]:
        checker.add(f"block {extra!r}", "a second begin block (a workflow has exactly one)")
    if not any(b.type == "end" for b in blocks.values()):
        checker.add("workflow", 'no end block (add {"id": "end", "type": "end"})')
    for block in blocks.values():
        for exit_name in block.exits:
            if (block.id, exit_name) not in exits:
                checker.add(f"block {block.id!r}", f"the {exit_name} exit is not connected")
    _check_cycles(checker, blocks, exits)
    if begins:
        _check_paths(checker, blocks, exits, begins[0])


def _successors(exits: Mapping[tuple[str, str], str]) -> dict[str, list[str]]:
    """The blocks each block leads to."""
    found: dict[str, list[str]] = {}
    for (source, _), target in exits.items():
        found.setdefault(source, []).append(target)
    return found


def _check_cycles(
    checker: _Checker, blocks: Mapping[str, Block], exits: Mapping[tuple[str, str], str]
) -> None:
    """Name a block of each cycle, with the loop it is on."""
    nexts = _successors(exits)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in blocks:
        if start not in state:
            _visit(checker, nexts, start, [], state)


def _visit(
    checker: _Checker, nexts: Mapping[str, list[str]], node: str, path: list[str],
    state: dict[str, int],
) -> None:  # fmt: skip
    """Depth-first search that reports each back edge as a cycle."""
    state[node] = 1
    path.append(node)
    for target in nexts.get(node, []):
        if state.get(target) == 1:
            loop = " → ".join([*path[path.index(target) :], target])
            checker.add(f"block {target!r}", f"is part of a cycle ({loop})")
        elif target not in state:
            _visit(checker, nexts, target, path, state)
    path.pop()
    state[node] = 2


def _check_paths(
    checker: _Checker,
    blocks: Mapping[str, Block],
    exits: Mapping[tuple[str, str], str],
    begin: str,
) -> None:
    """Every block reachable from begin, and able to reach an end."""
    nexts = _successors(exits)
    reached = _reach([begin], nexts)
    backwards: dict[str, list[str]] = {}
    for source, targets in nexts.items():
        for target in targets:
            backwards.setdefault(target, []).append(source)
    finishing = _reach([b.id for b in blocks.values() if b.type == "end"], backwards)
    for block_id in blocks:
        if block_id not in reached:
            checker.add(f"block {block_id!r}", "is not reachable from begin")
        elif block_id not in finishing:
            checker.add(f"block {block_id!r}", "has no path to an end block")


def _reach(starts: Iterable[str], nexts: Mapping[str, list[str]]) -> set[str]:
    """Every node reachable from the starts."""
    seen = set(starts)
    todo = list(seen)
    while todo:
        for target in nexts.get(todo.pop(), []):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen
