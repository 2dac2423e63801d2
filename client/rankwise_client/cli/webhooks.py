"""``rankwise webhooks ...``: a project's webhooks and their delivery log."""

from __future__ import annotations

from rankwise_client.cli.output import OK, table


def cmd_webhooks_list(args, ctx) -> int:
    hooks = ctx.client.webhooks.list(args.project)
    rows = [(h.id, h.url, ",".join(h.events), "yes" if h.active else "no") for h in hooks]
    ctx.out.result([h.raw for h in hooks], table(rows, ["id", "url", "events", "active"]))
    return OK


def cmd_webhooks_create(args, ctx) -> int:
    hook = ctx.client.webhooks.create(
        args.project, args.target, args.event, secret=args.secret,
        description=args.description or "", agreement_threshold=args.agreement_threshold,
        agreement_metric=args.agreement_metric,
    )  # fmt: skip
    ctx.out.result(hook.raw, f"webhook {hook.id} -> {hook.url} for {', '.join(hook.events)}\n"
                   f"secret (shown once; keep it to verify signatures): {hook.secret}")  # fmt: skip
    return OK


def cmd_webhooks_deliveries(args, ctx) -> int:
    found = []
    for delivery in ctx.client.webhooks.deliveries(args.project, args.webhook,
                                                   status=args.status):  # fmt: skip
        found.append(delivery)
        if len(found) >= args.limit:
            break
    rows = [(d.id, d.event_type, d.status, d.attempts, d.response_code, d.latency_ms,
             d.created_at.strftime("%Y-%m-%d %H:%M:%S") if d.created_at else None,
             (d.error or "")[:40]) for d in found]  # fmt: skip
    ctx.out.result([d.raw for d in found], table(
        rows, ["id", "event", "status", "attempts", "code", "ms", "created", "error"]))  # fmt: skip
    return OK


def cmd_webhooks_replay(args, ctx) -> int:
    delivery = ctx.client.webhooks.replay(args.project, args.webhook, args.delivery)
    ctx.out.result(delivery.raw, f"delivery {delivery.id} queued (replay of {args.delivery})")
    return OK


def cmd_webhooks_ping(args, ctx) -> int:
    delivery = ctx.client.webhooks.ping(args.project, args.webhook)
    ctx.out.result(delivery.raw, f"ping queued as delivery {delivery.id}")
    return OK


def add_parsers(sub, common) -> None:
    hooks = sub.add_parser("webhooks", help="a project's webhooks").add_subparsers(
        dest="action", required=True, metavar="{list,create,deliveries,replay,ping}"
    )
    p = hooks.add_parser("list", parents=[common], help="the project's webhooks")
    p.add_argument("project", help="project slug")
    p.set_defaults(func=cmd_webhooks_list)
    p = hooks.add_parser("create", parents=[common], help="register a URL for events")
    p.add_argument("project", help="project slug")
    # Not "url": that is the server (--url, a common option).
    p.add_argument("target", metavar="URL", help="http(s) URL the events are POSTed to")
    p.add_argument("--event", action="append", required=True, metavar="TYPE",
                   help="snapshot.ready, training_run.succeeded, queue.empty, ... (repeatable)")  # fmt: skip
    p.add_argument("--secret", help="signing secret (16+ characters; generated if left out)")
    p.add_argument("--description")
    p.add_argument("--agreement-threshold", type=float, metavar="X",
                   help="agreement.below_threshold fires when agreement drops under X")  # fmt: skip
    p.add_argument(
        "--agreement-metric", choices=["pairwise_agreement", "krippendorff_alpha_ranking"]
    )
    p.set_defaults(func=cmd_webhooks_create)
    p = hooks.add_parser("deliveries", parents=[common], help="the delivery log, newest first")
    p.add_argument("project", help="project slug")
    p.add_argument("webhook", type=int, help="webhook id")
    p.add_argument("--status", choices=["pending", "retrying", "succeeded", "failed"])
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_webhooks_deliveries)
    p = hooks.add_parser("replay", parents=[common], help="send a delivery's event again")
    p.add_argument("project", help="project slug")
    p.add_argument("webhook", type=int, help="webhook id")
    p.add_argument("delivery", type=int, help="delivery id")
    p.set_defaults(func=cmd_webhooks_replay)
    p = hooks.add_parser("ping", parents=[common], help="send a ping event")
    p.add_argument("project", help="project slug")
    p.add_argument("webhook", type=int, help="webhook id")
    p.set_defaults(func=cmd_webhooks_ping)
