"""The database: models, sessions, upsert by sync key, list queries and the rule engine."""
