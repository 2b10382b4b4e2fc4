"""A faithful local Lever API for demos, end-to-end tests and benchmarks, served on loopback."""

from connector.lever.sim.cli import format_start_line, serve_forever
from connector.lever.sim.data import ANCHOR_MS, BUILTIN_ROLES, USER_FIELDS, generate_users
from connector.lever.sim.faults import FAULT_KINDS, Fault
from connector.lever.sim.hiring_data import ARCHIVE_REASONS, STAGES
from connector.lever.sim.offers import IN_30_DAYS, OFFER_STATUSES, StartDate
from connector.lever.sim.paging import decode_offset, encode_offset
from connector.lever.sim.responses import ApiError, SimResponse
from connector.lever.sim.routes import ALL_SCOPES
from connector.lever.sim.server import SimulatorServer
from connector.lever.sim.simulator import LeverSimulator
from connector.lever.sim.webhooks import EVENTS as WEBHOOK_EVENTS
from connector.lever.sim.webhooks import sign

__all__ = [
    "ALL_SCOPES",
    "ANCHOR_MS",
    "ARCHIVE_REASONS",
    "BUILTIN_ROLES",
    "FAULT_KINDS",
    "IN_30_DAYS",
    "OFFER_STATUSES",
    "STAGES",
    "USER_FIELDS",
    "WEBHOOK_EVENTS",
    "ApiError",
    "Fault",
    "LeverSimulator",
    "SimResponse",
    "SimulatorServer",
    "StartDate",
    "decode_offset",
    "encode_offset",
    "format_start_line",
    "generate_users",
    "serve_forever",
    "sign",
]
