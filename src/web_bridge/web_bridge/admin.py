"""``python -m web_bridge.admin``: accounts from the command line (the first admin has no
other way in: there is no default account).

    python -m web_bridge.admin create-user alice --role admin            # every site
    python -m web_bridge.admin create-user bob --role operator --site depot
    python -m web_bridge.admin set-password alice
    python -m web_bridge.admin list-users

The password is read from the terminal (twice), or from standard input with
``--password-stdin``. FLEET_DATABASE_URL names the database.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Sequence

from fleet_db.db import DEFAULT_URL, URL_VARIABLE
from web_bridge import accounts
from web_bridge.db import make_async_engine, system
from web_bridge.errors import BridgeError
from web_bridge.security import ROLES, Grant, Passwords, check_password_strength


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise ValueError("the two passwords differ")
    check_password_strength(password)
    return password


async def _run(args: argparse.Namespace) -> int:
    engine = make_async_engine(os.environ.get(URL_VARIABLE) or DEFAULT_URL)
    passwords = Passwords(args.argon2_time_cost, args.argon2_memory_kib)
    try:
        async with system(engine) as conn:
            if args.command == "create-user":
                grants = tuple(Grant(args.role, site) for site in (args.site or [None]))
                password = _password(args.password_stdin)
                user_id = await accounts.create_user(conn, args.username,
                                                     passwords.hash(password), grants)
                where = ", ".join(args.site) if args.site else "every site"
                print(f"created user {args.username} (id {user_id}), {args.role} at {where}")
            elif args.command == "set-password":
                user = await accounts.find_user(conn, username=args.username)
                if user is None:
                    raise ValueError(f"user {args.username!r} does not exist")
                await accounts.update_user(conn, user.id,
                                           password_hash=passwords.hash(
                                               _password(args.password_stdin)))
                await accounts.revoke_user_tokens(conn, user.id)
                print(f"password of {args.username} changed; their sessions are revoked")
            else:
                for u in await accounts.list_users(conn):
                    shown = ", ".join(f"{g.role}@{g.site_id or '*'}" for g in u.grants)
                    print(f"{u.id}\t{u.username}\t{'active' if u.is_active else 'disabled'}"
                          f"\t{shown}")
    finally:
        await engine.dispose()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one account command; exit 2 with a message on bad input."""
    parser = argparse.ArgumentParser(prog="python -m web_bridge.admin",
                                     description="Manage web bridge accounts.")
    parser.add_argument("--argon2-time-cost", type=int, default=3, help=argparse.SUPPRESS)
    parser.add_argument("--argon2-memory-kib", type=int, default=65_536, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create-user", help="create a user with a role")
    create.add_argument("username")
    create.add_argument("--role", choices=ROLES, required=True)
    create.add_argument("--site", action="append",
                        help="grant the role at this site (repeatable); default: every site")
    create.add_argument("--password-stdin", action="store_true")
    setpw = sub.add_parser("set-password", help="set a user's password")
    setpw.add_argument("username")
    setpw.add_argument("--password-stdin", action="store_true")
    sub.add_parser("list-users", help="list users and their grants")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_run(args))
    except (BridgeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot reach the database: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
