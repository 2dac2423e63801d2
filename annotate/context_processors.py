from core.roles import Roles


def roles(request):
    """The signed-in user's role names, so templates can show only the links they may use."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"user_roles": frozenset()}
    names = set(user.groups.values_list("name", flat=True))
    if user.is_superuser:
        names.update(Roles.ALL)
    return {"user_roles": frozenset(names)}
