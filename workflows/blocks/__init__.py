"""The built-in block types; each module registers its own through `register(registry)`."""
