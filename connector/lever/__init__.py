"""The Lever connector: the users API client, its pacing and the user record schema."""

from connector.lever.client import DEFAULT_BASE_URL, LeverClient
from connector.lever.pacing import TokenBucket
from connector.lever.schemas import LeverUserSchema, load_user

__all__ = ["DEFAULT_BASE_URL", "LeverClient", "LeverUserSchema", "TokenBucket", "load_user"]
