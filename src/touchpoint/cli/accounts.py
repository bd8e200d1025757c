"""`touchpoint init`, `user …`, `role …`, `audit …`: accounts, roles and the audit log.

The CLI works on the data directory as its local administrator; every change it makes is audited under the
operating-system user who ran it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.text import Text

from touchpoint.cli.days import DAY_HELP, parse_day
from touchpoint.cli.output import console, fail, fmt_utc, new_table, print_json, print_table
from touchpoint.governance import accounts as service
from touchpoint.governance import approvals
from touchpoint.governance import roles as role_service
from touchpoint.governance.audit import search, verify
from touchpoint.governance.model import RoleUpdate, TokenCreate, UserCreate, UserRead, UserUpdate
from touchpoint.governance.permissions import PERMISSIONS

user_app = typer.Typer(
    help="Users (用户): create, list, disable, reset passwords, API tokens.", no_args_is_help=True
)
token_app = typer.Typer(help="A user's personal API tokens.", no_args_is_help=True)
user_app.add_typer(token_app, name="token")
role_app = typer.Typer(help="Roles (角色) and their permissions.", no_args_is_help=True)
audit_app = typer.Typer(
    help="The audit log (操作日志): search it, verify its hash chain.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="print as JSON")]
RolesOption = Annotated[list[str], typer.Option("--role", help="a role (repeat for several)")]
BranchOption = Annotated[
    list[str], typer.Option("--branch", help="limit to this 营业部 (repeat for several)")
]


def init_command(
    ctx: typer.Context,
    username: Annotated[str, typer.Option(help="the first administrator's username")] = "admin",
    as_json: JsonOption = False,
) -> None:
    """Set up a data directory: migrate its stores and create the first administrator, printing a one-time
    password to change at the first sign-in."""
    env = ctx.obj.container
    where = {
        "home": str(env.settings.home),
        "operational_store": env.ops.display_url,
        "revision": env.ops.current_revision(),
    }
    if service.list_users(env):
        if as_json:
            print_json({**where, "created": None})
        else:
            typer.echo(f"data directory: {where['home']}")
            typer.echo(f"operational store: {where['operational_store']} (revision {where['revision']})")
            typer.echo("users exist already, so no administrator was created (see `touchpoint user …`)")
        return
    created = service.create_user(
        env,
        principal=ctx.obj.principal,
        user=UserCreate(username=username, display_name="管理员 · Administrator", roles=["admin"]),
    )
    gated = approvals.switch_all_on(env.ops, clock=env.clock, principal=ctx.obj.principal)
    if as_json:
        print_json(
            {
                **where,
                "created": created.model_dump(mode="json"),
                "approvals": [p.model_dump(mode="json") for p in gated],
            }
        )
        return
    typer.echo(f"data directory: {where['home']}")
    typer.echo(f"operational store: {where['operational_store']} (revision {where['revision']})")
    typer.echo(f"created administrator {created.username}")
    typer.echo(f"one-time password: {created.password}")
    typer.echo("sign in and change it: the password is not shown again")
    typer.echo(
        "approval (四眼原则) is required for: "
        + ", ".join(p.action for p in gated if p.required)
        + " — switch with `touchpoint approval policy on|off ACTION`"
    )


@user_app.command("create")
def create_command(
    ctx: typer.Context,
    username: str,
    roles: RolesOption,
    name: Annotated[str, typer.Option(help="display name")] = "",
    branches: BranchOption = [],  # noqa: B006 (Typer reads the default; it is never mutated)
    advisor: Annotated[str | None, typer.Option(help="limit to this advisor's own customers")] = None,
    as_json: JsonOption = False,
) -> None:
    """Add a user with a generated one-time password (printed once, changed at the first sign-in)."""
    created = service.create_user(
        ctx.obj.container,
        principal=ctx.obj.principal,
        user=UserCreate(
            username=username, display_name=name, roles=roles, branches=branches, advisor_id=advisor
        ),
    )
    if as_json:
        print_json(created.model_dump(mode="json"))
        return
    typer.echo(f"created {created.username} ({', '.join(created.roles)})")
    typer.echo(f"one-time password: {created.password}")


def _users_table(users: list[UserRead]) -> None:
    table = new_table("username", "name", "roles", "branches", "advisor", "status", "last sign-in")
    for user in users:
        status = (
            "disabled" if user.disabled else ("must change password" if user.must_change_password else "")
        )
        table.add_row(
            user.username,
            user.display_name,
            ", ".join(user.roles),
            ", ".join(user.branches),
            user.advisor_id or "",
            status,
            fmt_utc(user.last_sign_in_at),
        )
    print_table(table)


@user_app.command("list")
def list_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every user, with roles, branches and status."""
    users = service.list_users(ctx.obj.container)
    if as_json:
        print_json([u.model_dump(mode="json") for u in users])
    else:
        _users_table(users)


def _update(ctx: typer.Context, username: str, change: UserUpdate, as_json: bool) -> None:
    user = service.update_user(
        ctx.obj.container, principal=ctx.obj.principal, username=username, change=change
    )
    if as_json:
        print_json(user.model_dump(mode="json"))
    else:
        _users_table([user])


@user_app.command("update")
def update_command(
    ctx: typer.Context,
    username: str,
    roles: Annotated[list[str] | None, typer.Option("--role", help="replace the roles (repeat)")] = None,
    branches: Annotated[
        list[str] | None, typer.Option("--branch", help="replace the branches (repeat)")
    ] = None,
    no_branches: Annotated[bool, typer.Option("--all-branches", help="lift the branch limit")] = False,
    advisor: Annotated[str | None, typer.Option(help="limit to this advisor's own customers")] = None,
    name: Annotated[str | None, typer.Option(help="display name")] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a user's roles, branches, advisor id or name."""
    values: dict[str, object] = {}
    if roles:
        values["roles"] = roles
    if branches or no_branches:
        values["branches"] = [] if no_branches else branches
    if advisor is not None:
        values["advisor_id"] = advisor or None
    if name is not None:
        values["display_name"] = name
    if not values:
        raise fail("nothing to change: give --role, --branch, --all-branches, --advisor or --name")
    _update(ctx, username, UserUpdate.model_validate(values), as_json)


@user_app.command("disable")
def disable_command(ctx: typer.Context, username: str, as_json: JsonOption = False) -> None:
    """Disable a user: their sessions end and their tokens are refused at once."""
    _update(ctx, username, UserUpdate(disabled=True), as_json)


@user_app.command("enable")
def enable_command(ctx: typer.Context, username: str, as_json: JsonOption = False) -> None:
    """Enable a disabled (or locked) user again."""
    _update(ctx, username, UserUpdate(disabled=False), as_json)


@user_app.command("reset-password")
def reset_password_command(ctx: typer.Context, username: str, as_json: JsonOption = False) -> None:
    """Give a user a new one-time password (printed once); their sessions end."""
    password = service.reset_password(ctx.obj.container, principal=ctx.obj.principal, username=username)
    if as_json:
        print_json({"username": username, "password": password})
    else:
        typer.echo(f"one-time password for {username}: {password}")


@token_app.command("create")
def token_create_command(
    ctx: typer.Context,
    username: str,
    name: Annotated[str, typer.Option(help="what the token is for")],
    days: Annotated[int | None, typer.Option(min=1, max=3650, help="expires after (default 90)")] = 90,
    as_json: JsonOption = False,
) -> None:
    """A personal API token for USERNAME's scripts: printed once, kept only as a digest."""
    token = service.create_token(
        ctx.obj.container,
        principal=ctx.obj.principal,
        username=username,
        token=TokenCreate(name=name, days=days),
    )
    if as_json:
        print_json(token.model_dump(mode="json"))
    else:
        typer.echo(f"token {token.id} ({token.name}), expires {fmt_utc(token.expires_at) or 'never'}")
        typer.echo(token.token)


@token_app.command("list")
def token_list_command(ctx: typer.Context, username: str, as_json: JsonOption = False) -> None:
    """USERNAME's tokens (never their secrets)."""
    tokens = service.list_tokens(ctx.obj.container, username=username)
    if as_json:
        print_json([t.model_dump(mode="json") for t in tokens])
        return
    table = new_table("id", "name", "prefix", "created", "expires", "last used", "revoked", numeric=("id",))
    for t in tokens:
        table.add_row(
            str(t.id),
            t.name,
            t.prefix + "…",
            fmt_utc(t.created_at),
            fmt_utc(t.expires_at),
            fmt_utc(t.last_used_at),
            fmt_utc(t.revoked_at),
        )
    print_table(table)


@token_app.command("revoke")
def token_revoke_command(
    ctx: typer.Context, username: str, token_id: int, as_json: JsonOption = False
) -> None:
    """Revoke one of USERNAME's tokens; it is refused from the next request on."""
    token = service.revoke_token(
        ctx.obj.container, principal=ctx.obj.principal, username=username, token_id=token_id
    )
    if as_json:
        print_json(token.model_dump(mode="json"))
    else:
        typer.echo(f"revoked token {token.id} ({token.name})")


@role_app.command("list")
def role_list_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every role and its permissions."""
    roles = role_service.list_roles(ctx.obj.container)
    if as_json:
        print_json([r.model_dump(mode="json") for r in roles])
        return
    table = new_table("role", "title", "permissions (object: verbs)", "")
    for role in roles:
        table.add_row(role.name, role.title, _grouped(role.permissions), "edited" if role.edited else "")
    print_table(table)


def _grouped(permissions: list[str]) -> str:
    """`segment:read segment:write` → `segment: read write`, one object per line."""
    verbs: dict[str, list[str]] = {}
    for permission in permissions:
        thing, _, verb = permission.partition(":")
        verbs.setdefault(thing, []).append(verb)
    return "\n".join(f"{thing}: {' '.join(v)}" for thing, v in verbs.items())


@role_app.command("permissions")
def permissions_command(as_json: JsonOption = False) -> None:
    """Every permission a role can hold."""
    if as_json:
        print_json([{"name": p.name, "zh": p.zh, "en": p.en} for p in PERMISSIONS])
        return
    table = new_table("permission", "中文", "English")
    for p in PERMISSIONS:
        table.add_row(p.name, p.zh, p.en)
    print_table(table)


@role_app.command("set")
def role_set_command(
    ctx: typer.Context,
    name: str,
    permissions: Annotated[list[str], typer.Option("--permission", help="a permission (repeat)")],
    title: Annotated[str | None, typer.Option(help="the role's title")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create role NAME or replace its permissions (the admin role cannot be edited)."""
    role = role_service.set_role(
        ctx.obj.container,
        principal=ctx.obj.principal,
        name=name,
        change=RoleUpdate(title=title, permissions=permissions),
    )
    if as_json:
        print_json(role.model_dump(mode="json"))
    else:
        typer.echo(f"{role.name}: {' '.join(role.permissions)}")


@audit_app.command("verify")
def verify_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Walk the audit log's hash chain; name every entry that was edited, removed or moved (exit code 1)."""
    report = verify(ctx.obj.container.ops)
    if as_json:
        print_json(report.model_dump(mode="json"))
    elif report.ok:
        typer.echo(f"audit log intact: {report.entries} entries")
    else:
        for problem in report.problems:
            where = "head" if problem.seq is None else f"entry {problem.seq}"
            console.print(Text(where, style="red") + Text(f": {problem.problem}"), highlight=False)
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("search")
def search_command(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option(help="who (a username, or os:<name> for the CLI)")] = None,
    kind: Annotated[
        str | None, typer.Option(help="what kind of object: user, tag, segment, journey, …")
    ] = None,
    target: Annotated[str | None, typer.Option(help="which object (its name or id)")] = None,
    action: Annotated[str | None, typer.Option(help="the action, e.g. auth.sign_in_failed")] = None,
    first: Annotated[str | None, typer.Option("--from", help=f"first day: {DAY_HELP}")] = None,
    last: Annotated[str | None, typer.Option("--to", help=f"last day (inclusive): {DAY_HELP}")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: JsonOption = False,
) -> None:
    """Audit entries, newest first, filtered by user, kind, object, action and time."""
    env = ctx.obj.container
    calendar = env.calendar
    entries = search(
        env.ops,
        actor=user,
        kind=kind,
        target=target,
        action=action,
        since=None if first is None else calendar.to_utc(parse_day(ctx, first)),
        until=None if last is None else calendar.to_utc(parse_day(ctx, last) + timedelta(days=1)),
        limit=limit,
    )
    if as_json:
        print_json([e.model_dump(mode="json") for e in entries])
        return
    table = new_table("#", "at (UTC)", "who", "from", "action", "object", numeric=("#",))
    for e in entries:
        table.add_row(
            str(e.seq), fmt_utc(e.at), e.actor, e.source or "", e.action, f"{e.target_type}:{e.target_id}"
        )
    print_table(table)
