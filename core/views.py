from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.health import DEPENDENCIES, dependencies_check


@never_cache
@require_GET
def healthz(request):
    """Each dependency's state; 200 only when every needed one is up, else 503.

    ``?needs=database`` lets a load balancer decide on the database alone: annotating,
    reviewing and reading keep working without Redis, so a web node should stay in rotation
    during a Redis outage while monitoring (plain ``/healthz``) sees it.
    """
    checks = dependencies_check()
    asked = [n.strip() for n in request.GET.get("needs", "").split(",") if n.strip()]
    unknown = sorted(set(asked) - set(DEPENDENCIES))
    if unknown:
        return JsonResponse(
            {"error": "invalid", "detail": f"unknown dependency {unknown[0]!r}",
             "fields": {"needs": f"names among {', '.join(DEPENDENCIES)}"}},
            status=400,
        )  # fmt: skip
    deciding = asked or [name for name, c in checks.items() if c["needed"]]
    if not checks["database"]["ok"]:
        overall = "down"
    elif all(c["ok"] for c in checks.values()):
        overall = "ok"
    else:
        overall = "degraded"
    healthy = all(checks[name]["ok"] for name in deciding)
    return JsonResponse(
        {"status": overall, "checks": checks, "decided_by": deciding},
        status=200 if healthy else 503,
    )
