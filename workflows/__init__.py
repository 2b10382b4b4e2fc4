"""Workflows: definitions, validation, the block registry and built-in blocks, presets, the
runner, run and step logs, approvals, and the triggers that start runs.

Imports go one way: workflows uses connector, vault and inventory, never web.

* `workflows.definition` — the JSON definition and its checks (`check`, `load`);
* `workflows.registry` — the Block base class, presets, and the registry built-ins and
  extensions share (`load_registry`);
* `workflows.store` — create, update (versions), activate, deactivate;
* `workflows.runner` — `run_workflow`, dry runs, supervised runs, the step log;
* `workflows.approvals` — list, approve, reject;
* `workflows.triggers` — `scheduled_workflows`, `run_scheduled`, `run_due`,
  `handle_sync_events`;
* `workflows.logins` — last activity imported from a CSV file.
"""
