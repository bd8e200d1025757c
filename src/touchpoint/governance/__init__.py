"""Who is asking and what they did: principals, and the audit log of every change."""

from touchpoint.governance.audit import record_operation, save_definition
from touchpoint.governance.model import SYSTEM, Principal

__all__ = ["SYSTEM", "Principal", "record_operation", "save_definition"]
