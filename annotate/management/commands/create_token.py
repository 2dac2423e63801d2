from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from annotate.services.accounts import token_issue
from core.context import audit_context


class Command(BaseCommand):
    help = (
        "Print USER's API token (send it as 'Authorization: Token <key>'), creating it if needed."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--rotate", action="store_true", help="replace an existing token (the old one stops)"
        )

    def handle(self, *args, **opts):
        user = get_user_model().objects.filter(username=opts["username"]).first()
        if user is None:
            raise CommandError(f"no user {opts['username']!r}")
        if not user.is_active:
            raise CommandError(f"{user.username} is inactive; activate the account first")
        with audit_context(source="command"):
            token = token_issue(user=user, rotate=opts["rotate"])
        self.stdout.write(token.key)
