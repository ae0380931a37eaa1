"""Walking the app's route table, so that every new route is covered by the isolation and RBAC tests."""

from __future__ import annotations

import re
from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from seiketsu.auth.deps import authenticate
from seiketsu.auth.rbac import Permission

PARAM = re.compile(r"{(\w+)}")


def api_routes(app: FastAPI) -> Iterator[tuple[str, str, APIRoute]]:
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path or ""
        if isinstance(route, APIRoute) and path.startswith("/api/v1"):
            for method in sorted(route.methods or ()):
                yield method, path, route


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _walk(sub)


def required_permissions(route: APIRoute) -> frozenset[Permission]:
    found: set[Permission] = set()
    for dep in _walk(route.dependant):
        found |= getattr(dep.call, "required_permissions", frozenset())
    return frozenset(found)


def is_authenticated(route: APIRoute) -> bool:
    return any(dep.call is authenticate for dep in _walk(route.dependant))


def path_params(path: str) -> list[str]:
    return PARAM.findall(path)


def fill(path: str, values: dict[str, str]) -> str:
    return PARAM.sub(lambda m: values[m.group(1)], path)
