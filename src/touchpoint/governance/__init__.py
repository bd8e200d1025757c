"""Who is asking and what they did: users, roles and permissions, principals, and the audit log."""

from touchpoint.governance.audit import record_operation
from touchpoint.governance.model import SYSTEM, Principal, local_administrator

__all__ = ["SYSTEM", "Principal", "local_administrator", "record_operation"]
