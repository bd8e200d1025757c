"""The named permissions every route declares, and the built-in roles as sets of them.

A permission is `object:verb`, as Sensors presets roles (查看/新建/编辑/审批/下载 per object) and Volcengine
names paths. An admin may edit any role's set (`touchpoint role set`); a built-in role nobody edited has the
set below.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Permission:
    """One thing a caller may do, with its Chinese and English names for the console."""

    name: str
    zh: str
    en: str


PERMISSIONS: tuple[Permission, ...] = (
    Permission("status:read", "查看数据状态", "Read data status"),
    Permission("customer:read", "查看客户 360°", "Read customer 360°"),
    Permission("pii:view", "查看未脱敏个人信息", "See unmasked personal data"),
    Permission("tag:sensitive", "查看敏感标签", "See sensitive tags"),
    Permission("consent:write", "修改营销授权与免打扰", "Change consent and do-not-disturb"),
    Permission("identity:read", "查看 One ID", "Read One ID"),
    Permission("identity:write", "拆分与放行身份", "Unmerge and allow identities"),
    Permission("indicator:read", "查看指标", "Read indicators"),
    Permission("indicator:write", "编辑指标", "Edit indicators"),
    Permission("tag:read", "查看标签", "Read tags"),
    Permission("tag:write", "编辑标签", "Edit tags"),
    Permission("compute:run", "运行计算", "Run computations"),
    Permission("segment:read", "查看人群", "Read segments"),
    Permission("segment:write", "编辑人群", "Edit segments"),
    Permission("segment:export", "导出人群", "Export segments"),
    Permission("analytics:read", "行为分析与洞察", "Analyse behaviour and insight"),
    Permission("insight:run", "运行相似人群扩展", "Run lookalike jobs"),
    Permission("journey:read", "查看旅程", "Read journeys"),
    Permission("journey:write", "编辑旅程", "Edit journeys"),
    Permission("journey:publish", "发布旅程", "Publish journeys"),
    Permission("journey:operate", "暂停、恢复、停止旅程与运行", "Pause, resume and stop journeys and runs"),
    Permission("moment:read", "查看关键时刻规则与触发", "Read MOT rules and firings"),
    Permission("moment:write", "编辑关键时刻规则", "Edit MOT rules"),
    Permission("task:read", "查看服务任务", "Read advisor tasks"),
    Permission("task:work", "领取与反馈服务任务", "Claim and complete advisor tasks"),
    Permission("task:assign", "分派服务任务", "Assign advisor tasks"),
    Permission("kpi:read", "查看服务考核指标", "Read service KPIs"),
    Permission("template:read", "查看消息模板", "Read message templates"),
    Permission("template:write", "编辑消息模板", "Edit message templates"),
    Permission("template:activate", "启用与下线模板", "Activate and retire templates"),
    Permission("channel:read", "查看渠道与发送记录", "Read channels and deliveries"),
    Permission("channel:write", "编辑渠道设置", "Edit channel settings"),
    Permission("channel:receipt", "回传渠道回执", "Post channel receipts"),
    Permission("channel:inbox", "读写站内信", "Read and mark in-app messages"),
    Permission(
        "collector:read", "查看采集统计、隔离区与死信", "Read collector stats, quarantine, dead letters"
    ),
    Permission("collector:operate", "重放隔离区与重试死信", "Replay quarantine and retry dead letters"),
    Permission("import:run", "导入数据", "Import data"),
    Permission("definition:apply", "批量应用定义", "Apply definition bundles"),
    Permission("approval:review", "审批", "Review approvals"),
    Permission("audit:read", "查看操作日志", "Read the audit log"),
    Permission("user:manage", "管理用户", "Manage users"),
    Permission("role:manage", "管理角色与权限", "Manage roles and permissions"),
    Permission("key:manage", "管理接入密钥", "Manage ingestion keys"),
)
"""Every permission, in the order the console lists them."""

ALL_PERMISSIONS = frozenset(p.name for p in PERMISSIONS)

_READ_EVERYTHING = frozenset(
    {
        "status:read",
        "customer:read",
        "identity:read",
        "indicator:read",
        "tag:read",
        "segment:read",
        "journey:read",
        "moment:read",
        "template:read",
        "channel:read",
    }
)


@dataclass(frozen=True)
class RoleDefault:
    """A built-in role: its names and its permissions until an admin edits them."""

    name: str
    zh: str
    en: str
    permissions: frozenset[str]


BUILTIN_ROLES: tuple[RoleDefault, ...] = (
    RoleDefault("admin", "管理员", "Administrator", ALL_PERMISSIONS),
    RoleDefault(
        "operator",
        "运营",
        "Operator",
        _READ_EVERYTHING
        | {
            "pii:view",
            "consent:write",
            "segment:write",
            "segment:export",
            "analytics:read",
            "insight:run",
            "journey:write",
            "journey:publish",
            "journey:operate",
            "template:write",
            "template:activate",
            "channel:write",
            "channel:inbox",
            "moment:write",
            "task:read",
            "kpi:read",
        },
    ),
    RoleDefault(
        "analyst",
        "分析师",
        "Analyst",
        _READ_EVERYTHING
        | {"indicator:write", "tag:write", "compute:run", "analytics:read", "insight:run", "kpi:read"},
    ),
    RoleDefault(
        "advisor",
        "投顾",
        "Advisor",
        frozenset(
            {
                "customer:read",
                "pii:view",
                "tag:read",
                "indicator:read",
                "channel:read",
                "journey:read",
                "moment:read",
                "task:read",
                "task:work",
            }
        ),
    ),
    RoleDefault(
        "branch_manager",
        "营业部负责人",
        "Branch manager",
        _READ_EVERYTHING
        | {"pii:view", "analytics:read", "task:read", "task:work", "task:assign", "kpi:read"},
    ),
    RoleDefault(
        "compliance",
        "合规",
        "Compliance",
        _READ_EVERYTHING
        | {"approval:review", "audit:read", "analytics:read", "collector:read", "task:read", "kpi:read"},
    ),
    RoleDefault(
        "data_engineer",
        "数据工程师",
        "Data engineer",
        frozenset(
            {
                "status:read",
                "import:run",
                "indicator:read",
                "indicator:write",
                "tag:read",
                "tag:write",
                "compute:run",
                "segment:read",
                "analytics:read",
                "identity:read",
                "identity:write",
                "collector:read",
                "collector:operate",
                "definition:apply",
                "channel:read",
                "key:manage",
            }
        ),
    ),
)
"""The roles a new installation has (issue 15; CONSOLE.md's role table)."""

BUILTIN_BY_NAME = {role.name: role for role in BUILTIN_ROLES}


def unknown_permissions(names: set[str] | frozenset[str]) -> list[str]:
    """The names that are not permissions, sorted (empty when all are known)."""
    return sorted(set(names) - ALL_PERMISSIONS)
