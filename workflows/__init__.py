"""Workflows: definitions, validation, the block registry and built-in blocks, presets, the
runner, run and step logs, approvals, and the triggers that start runs.

Imports go one way: workflows uses connector, vault and inventory, never web.

* `workflows.definition` — the JSON definition and its checks (`check`, `load`);
* `workflows.objects` — what a workflow runs over (SaaS users or people): rule fields, selecting
  and loading records;
* `workflows.registry` — the Block base class, presets, and the registry built-ins and
  extensions share (`load_registry`);
* `workflows.store` — create, update (versions), activate, deactivate;
* `workflows.runner` — `run_workflow` (the shell's way), `queue_workflow` and
  `run_queued_workflow` (a run queued for a worker), dry runs, supervised runs, the step log;
* `workflows.approvals` — list, approve (or `accept`, then `send_approved` in a worker), reject;
* `workflows.triggers` — `scheduled_workflows`, `run_scheduled`, `run_due` / `queue_due`,
  `handle_sync_events` / `queue_sync_events`, `handle_person_events` / `queue_person_events`;
* `workflows.logins` — last activity imported from a CSV file.
"""
