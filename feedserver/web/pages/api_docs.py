"""GET /api/docs: the JSON API's reference, rendered from the same OpenAPI document that
``GET /api/openapi.json`` serves, for anyone (it holds no data, only the contract)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from feedserver.web.openapi import document
from feedserver.web.pages.base import Visitor, page, render
from feedserver.web.state import CONFIG

routes = web.RouteTableDef()


def _resolve(node: Any, components: dict[str, Any]) -> Any:
    """A schema with its ``$ref`` looked up (one level: the document's references are flat)."""
    if isinstance(node, dict) and "$ref" in node:
        return components[node["$ref"].rsplit("/", 1)[1]]
    return node


def _type(schema: dict[str, Any]) -> str:
    """A property's type as a person reads it: ``string (≤ 200)``, ``integer 1-44640``."""
    if "enum" in schema:
        return " | ".join(repr(v) for v in schema["enum"] if v is not None)
    if "anyOf" in schema:
        return " or ".join(
            _type(option) for option in schema["anyOf"] if option != {"type": "null"}
        )
    kinds = schema.get("type", "any")
    kind = " or ".join(k for k in kinds if k != "null") if isinstance(kinds, list) else kinds
    if "maxLength" in schema:
        kind += f" (≤ {schema['maxLength']})"
    if "minimum" in schema and "maximum" in schema:
        kind += f" {schema['minimum']}–{schema['maximum']}"
    if kind == "array" and "items" in schema:
        kind = f"list of {_type(schema['items'])}"
    if "format" in schema:
        kind += f" ({schema['format']})"
    return kind


def _operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    components = spec["components"]["schemas"]
    found = []
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            body = operation.get("requestBody", {}).get("content", {})
            schema = _resolve(body.get("application/json", {}).get("schema"), components)
            fields = []
            if schema:
                required = set(schema.get("required", ()))
                for name, prop in schema["properties"].items():
                    fields.append(
                        {
                            "name": name,
                            "type": _type(prop),
                            "required": name in required,
                            "description": prop.get("description", ""),
                        }
                    )
            found.append(
                {
                    "id": operation["operationId"],
                    "method": method.upper(),
                    "path": path,
                    "summary": operation["summary"],
                    "description": operation.get("description", ""),
                    "tag": operation["tags"][0],
                    "auth": [next(iter(s)) for s in operation["security"]],
                    "parameters": [
                        {"description": "", **p, "type": _type(p["schema"])}
                        for p in operation["parameters"]
                    ],
                    "media": [k for k in body if k != "application/json"],
                    "fields": fields,
                    "responses": [
                        (status, response["description"])
                        for status, response in operation["responses"].items()
                    ],
                }
            )
    return found


def _events(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The webhook events: each type, what it tells, and the fields of its ``data``."""
    found = []
    for name, hook in spec.get("webhooks", {}).items():
        post = hook["post"]
        schema = post["requestBody"]["content"]["application/json"]["schema"]
        data = schema["properties"]["data"]["properties"]
        found.append(
            {
                "name": name,
                "summary": post["summary"].replace("`", ""),
                "fields": [
                    {"name": key, "type": _type(_resolve(value, spec["components"]["schemas"]))}
                    for key, value in data.items()
                ],
            }
        )
    return found


@routes.get("/api/docs")
@page
async def api_docs(request: web.Request, who: Visitor) -> web.StreamResponse:
    spec = document(request.app, request.app[CONFIG].public_url)
    operations = _operations(spec)
    tags = sorted({o["tag"] for o in operations})
    return render(
        request,
        who,
        "api_docs.html",
        {"spec": spec, "operations": operations, "tags": tags, "events": _events(spec)},
    )
