"""The `invsync` subcommands, one module per area."""
