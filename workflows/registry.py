"""Block types and presets: a small base class and one registry that built-ins and extensions share.

Every module that contributes blocks or presets exposes one hook, `register(registry)`, and calls
`registry.add_block(...)` / `registry.add_preset(...)` in it. The built-in modules are loaded
through that hook exactly as an extension is: an extension names its module under the entry-point
group ``invsync.workflows`` (``[project.entry-points."invsync.workflows"] mine = "pkg.blocks"``),
or a program passes it to `load_registry(extra=[...])`.

A block type documents itself with its class docstring (first line shown in listings) and a
preset with its `description`; a test keeps every registered one documented.

A block type names the object types it can act on (`objects`: SaaS users unless it says more),
and a preset the object types its vendor's operation fits; a people workflow admits only the
blocks and presets that say ``people``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from workflows.context import Record, RunContext

__all__ = [
    "BUILTIN_MODULES",
    "COMMON_KEYS",
    "ENTRY_POINT_GROUP",
    "OBJECT_NOUNS",
    "Block",
    "BlockSpec",
    "CheckEnv",
    "Preset",
    "Registry",
    "Result",
    "RetryPolicy",
    "load_registry",
]

ENTRY_POINT_GROUP = "invsync.workflows"
BUILTIN_MODULES = (
    "workflows.blocks.flow",
    "workflows.blocks.role",
    "workflows.blocks.api",
    "workflows.blocks.update",
    "workflows.blocks.notification",
    "workflows.presets",
)
COMMON_KEYS = frozenset({"id", "type", "label", "retry"})
SUCCESS, FAILURE, PENDING = "success", "failure", "pending"
MAX_TRIES = 10
MAX_BACKOFF = 300.0
SAAS_USERS = "saas_users"
# An object type as a problem line names a workflow over it: "a people workflow".
OBJECT_NOUNS = {SAAS_USERS: "SaaS-user", "people": "people"}


@dataclass(frozen=True)
class RetryPolicy:
    """How often a block is tried when it fails with a retryable error, and how long to wait."""

    tries: int = 1
    backoff: float = 1.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt `attempt` (1-based): doubling from `backoff`."""
        return self.backoff * 2 ** (attempt - 1)


@dataclass(frozen=True)
class BlockSpec:
    """One block as the definition gives it: id, type, retry policy and its raw options."""

    id: str
    type: str
    doc: Mapping[str, Any]
    retry: RetryPolicy = RetryPolicy()
    object: str = SAAS_USERS  # what the workflow's records are: saas_users or people

    def get(self, key: str, default: Any = None) -> Any:
        """One option of the block, as written."""
        return self.doc.get(key, default)


@dataclass(frozen=True)
class Result:
    """What a block did to one record: its exit (or `pending`), a message and Lever's status."""

    outcome: str
    message: str = ""
    status_code: int | None = None
    retryable: bool = False

    @classmethod
    def success(cls, message: str = "", status_code: int | None = None) -> Result:
        """Leave by the success exit."""
        return cls(SUCCESS, message, status_code)

    @classmethod
    def failure(
        cls, message: str, status_code: int | None = None, *, retryable: bool = False
    ) -> Result:
        """Leave by the failure exit (after the retry policy, when `retryable`)."""
        return cls(FAILURE, message, status_code, retryable)


@dataclass(frozen=True)
class Preset:
    """Data that fills an action block for one vendor, such as Lever User Role."""

    name: str
    block_type: str
    vendor: str
    description: str
    operation: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    objects: frozenset[str] = frozenset({SAAS_USERS})  # a vendor's user operations: SaaS users


@dataclass(frozen=True)
class CheckEnv:
    """What validation may consult: the registry and, when known, the vault's credential names."""

    registry: Registry
    credentials: frozenset[str] | None = None
    custom_fields: frozenset[str] | None = None  # People custom field names; None: any name


class Block:
    """Base of every block type: check the options, then act on one record at a time.

    Subclasses set `type`, the `keys` they accept beyond COMMON_KEYS, their `exits` and the
    `objects` they can act on (and in `acts_on` what they do, for the line refusing them in a
    workflow over another object type); they override `check` (problems, one line each, without
    the block's name) and `run`.
    """

    type: ClassVar[str] = ""
    exits: ClassVar[tuple[str, ...]] = (SUCCESS, FAILURE)
    keys: ClassVar[frozenset[str]] = frozenset()
    objects: ClassVar[frozenset[str]] = frozenset({SAAS_USERS})
    acts_on: ClassVar[str] = "acts on SaaS users"

    def __init__(self, spec: BlockSpec, registry: Registry) -> None:
        self.spec = spec
        self.registry = registry

    @property
    def id(self) -> str:
        """The block's id in its workflow."""
        return self.spec.id

    def check(self, env: CheckEnv) -> list[str]:
        """Problems with this block's options; none by default."""
        return []

    def refusal(self, obj: str) -> str | None:
        """Why the block cannot be in a workflow over `obj` (one line), or None when it can."""
        if obj in self.objects:
            return None
        usable = ", ".join(sorted(t for t, c in self.registry.blocks.items() if obj in c.objects))
        noun = OBJECT_NOUNS.get(obj, obj)
        return (
            f"block type {self.type!r} {self.acts_on}, so a {noun} workflow cannot use it "
            f"(use one of {usable})"
        )

    def changes_lever(self) -> bool:
        """Whether running the block changes Lever (a supervised run asks for approval first)."""
        return False

    def describe(self, ctx: RunContext, record: Record) -> str:
        """What the block would do to the record, in words (for dry runs and approvals)."""
        return f"would run {self.type}"

    def run(self, ctx: RunContext, record: Record) -> Result:
        """Act on one record and say which exit to take."""
        return Result.success()


class Registry:
    """Block types by name and presets by name; the one place both are looked up."""

    def __init__(self) -> None:
        self.blocks: dict[str, type[Block]] = {}
        self.presets: dict[str, Preset] = {}

    def add_block(self, cls: type[Block]) -> type[Block]:
        """Register a block type (usable as a class decorator); a name is registered once."""
        if not cls.type or cls.type in self.blocks:
            raise ValueError(f"block type {cls.type!r} is empty or registered already")
        self.blocks[cls.type] = cls
        return cls

    def add_preset(self, preset: Preset) -> Preset:
        """Register a preset; its name is registered once."""
        if preset.name in self.presets:
            raise ValueError(f"preset {preset.name!r} is registered already")
        self.presets[preset.name] = preset
        return preset

    def block(self, spec: BlockSpec) -> Block:
        """A block of the spec's type (the type must be registered)."""
        return self.blocks[spec.type](spec, self)

    def presets_for(self, block_type: str) -> list[str]:
        """Names of the presets that fill a block type."""
        return sorted(p.name for p in self.presets.values() if p.block_type == block_type)

    def load(self, module: ModuleType | str) -> None:
        """Call a module's `register(registry)` hook."""
        if isinstance(module, str):
            module = importlib.import_module(module)
        module.register(self)


def load_registry(extra: Iterable[ModuleType | str] = (), *, plugins: bool = True) -> Registry:
    """A registry with the built-ins, then installed extensions, then `extra` modules."""
    registry = Registry()
    for name in BUILTIN_MODULES:
        registry.load(name)
    if plugins:
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            registry.load(entry.load())
    for module in extra:
        registry.load(module)
    return registry
