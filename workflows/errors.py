"""Errors of the workflows package, grouped by what the caller does with them.

InvsyncError                      (inventory.errors) root of every invsync error
 ├── ConfigError                  (inventory.errors) a user's mistake, exit code 2, HTTP 400
 │    ├── WorkflowInvalid         a definition has problems; `.problems` holds one line each
 │    ├── WorkflowStateError      a workflow or approval is not in a state that allows this
 │    ├── WorkflowNotFound        no workflow, run or approval by that name or id (404)
 │    └── WorkflowExists          a workflow of that name exists already (409)
 └── WorkflowError                root of run-time errors of this package (exit code 1, 500)
      └── RunFailed               the run cannot go on for any record (refused key, no credential)

A failure exit of a block is a normal outcome, never an error: blocks return results.
"""

from __future__ import annotations

from collections.abc import Sequence

from inventory.errors import (
    AlreadyExistsError,
    ConfigError,
    ExitCode,
    InvsyncError,
    NotFoundError,
)

__all__ = [
    "RunFailed",
    "WorkflowError",
    "WorkflowExists",
    "WorkflowInvalid",
    "WorkflowNotFound",
    "WorkflowStateError",
]


class WorkflowInvalid(ConfigError):
    """A definition cannot be saved or activated; each problem names its block or section."""

    exit_code = ExitCode.USAGE
    http_status = 400

    def __init__(self, problems: Sequence[str]) -> None:
        count = len(problems)
        super().__init__(f"workflow has {count} problem{'' if count == 1 else 's'}: {problems[0]}")
        self.problems = list(problems)


class WorkflowStateError(ConfigError):
    """A workflow or approval is not in a state that allows the request (a draft run, …)."""

    exit_code = ExitCode.USAGE
    http_status = 400


class WorkflowNotFound(NotFoundError):
    """No workflow, run or approval answers to that name or id."""

    exit_code = ExitCode.USAGE
    http_status = 404


class WorkflowExists(AlreadyExistsError):
    """A workflow of that name exists already."""

    exit_code = ExitCode.USAGE
    http_status = 409


class WorkflowError(InvsyncError):
    """Root of the run-time errors of workflows; the message is safe to show."""

    exit_code = ExitCode.FAILED
    http_status = 500


class RunFailed(WorkflowError):
    """The run cannot go on for any record: a refused key, a missing credential, …"""

    exit_code = ExitCode.FAILED
    http_status = 500
