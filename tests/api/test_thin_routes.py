"""Routes stay thin: parse, call one provider or service, shape the response.

A route whose body grows past ~30 lines is doing a service's (or a repository's) work; this
keeps every route of the application, present and future, within that bound.
"""

from __future__ import annotations

import ast
import inspect
import textwrap

from fastapi import FastAPI

from app.api.contract import api_routes

MAX_BODY_LINES = 30


def body_lines(function: object) -> int:
    source = textwrap.dedent(inspect.getsource(function))  # type: ignore[arg-type]
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    if not body:
        return 0
    return (body[-1].end_lineno or 0) - body[0].lineno + 1


def test_no_route_function_is_over_thirty_lines(app: FastAPI) -> None:
    routes = list(api_routes(app.routes))
    # FastAPI keeps included routers whole: ``app.routes`` alone held none of the API routes,
    # and this test read nothing until it walked them
    assert len(routes) > 50
    long_routes = {
        f"{sorted(route.methods)} {route.path} ({route.endpoint.__module__})": lines
        for route in routes
        if (lines := body_lines(route.endpoint)) > MAX_BODY_LINES
    }
    assert not long_routes, long_routes
