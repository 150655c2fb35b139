"""The OpenAPI document: one operation per documented path, with every answer it can give.

FastAPI writes one operation per route. Raster layers (titiler's factory, ids matched by the
``raster_layer`` convertor) and village layers (``village_layer``) have separate tile and
legend routes under the same documented path, ``/layers/{layer_id}/{period}/...``, and
FastAPI would keep only the last of them. :func:`openapi_document` merges the operations of
routes sharing a path and method: parameters, tags, responses, media types and response
headers are united, so the document lists every status code and media type the path really
answers (schemathesis checks it, see ``tests/tiles/test_fuzz.py``). Every error answer is an
:class:`~tiles.errors.ErrorBody` (FastAPI's own 422 schema is replaced by it).

:data:`fallback_router` serves the same paths for ids of no family (``/layers/NDVI/...``), so
they get the documented 404 naming ``layer_id`` rather than a bare "Not Found".
"""

from __future__ import annotations

from typing import Any, NoReturn

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi

from tiles.errors import LayerNotFound, error_responses
from tiles.routes import api_routes

__all__ = ["fallback_router", "install", "openapi_document"]

_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
#: FastAPI's validation error schemas, unused once every 422 is an ErrorBody.
_FASTAPI_SCHEMAS = ("HTTPValidationError", "ValidationError")
#: Who each merged part describes, by its first tag.
_FAMILIES = {
    "raster": "Raster layers (`raster.*`)",
    "villages": "Village layers (`choropleth.*`, `bivariate.*`, `vector.villages`)",
}


def _groups(app: FastAPI) -> list[list[Any]]:
    """Documented routes grouped by (path, method), in the order they were registered."""
    groups: dict[tuple[str, str], list[Any]] = {}
    for route, entry in api_routes(app):
        if route.include_in_schema:
            for method in sorted(route.methods or ()):
                groups.setdefault((entry.path_format, method), []).append(entry)
    return list(groups.values())


def _bare(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k not in ("description", "title")}


def _union_schema(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    if _bare(a) == _bare(b) or not b:
        return a
    if not a:
        return b
    return {"anyOf": [a, b]}


def _join(a: str | None, b: str | None, sep: str) -> str | None:
    if not a or not b or a == b:
        return a or b
    return f"{a}{sep}{b}"


def _merge_parameters(a: list[dict], b: list[dict]) -> list[dict]:
    merged = {(p["name"], p["in"]): dict(p) for p in a}
    for p in b:
        key = (p["name"], p["in"])
        if key not in merged:
            merged[key] = dict(p)
            continue
        q = merged[key]
        q["required"] = bool(q.get("required") or p.get("required"))
        q["schema"] = _union_schema(q.get("schema", {}), p.get("schema", {}))
        description = _join(q.get("description"), p.get("description"), "; ")
        if description:
            q["description"] = description
            if "description" in q["schema"]:
                q["schema"] = {**q["schema"], "description": description}
    return list(merged.values())


def _merge_responses(a: dict[str, dict], b: dict[str, dict]) -> dict[str, dict]:
    merged = {code: dict(r) for code, r in a.items()}
    for code, r in b.items():
        if code not in merged:
            merged[code] = dict(r)
            continue
        m = merged[code]
        m["description"] = _join(m.get("description"), r.get("description"), "; ") or ""
        for part in ("content", "headers"):
            if part in r:
                into = m.setdefault(part, {})
                for name, value in r[part].items():
                    if name in into and part == "content":
                        schema = _union_schema(
                            into[name].get("schema", {}), value.get("schema", {})
                        )
                        into[name] = {"schema": schema} if schema else {}
                    else:
                        into.setdefault(name, value)
    return dict(sorted(merged.items()))


def _describe(op: dict[str, Any]) -> str:
    family = _FAMILIES.get((op.get("tags") or [""])[0], op.get("operationId", ""))
    return f"**{family}**: {op.get('description') or op.get('summary', '')}"


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """One operation answering for both routes."""
    merged = dict(a)
    merged["operationId"] = a["operationId"].rpartition(".")[2]  # raster.getTile -> getTile
    merged["summary"] = _join(a.get("summary"), b.get("summary"), " or ")
    merged["description"] = f"{_describe(a)}\n\n{_describe(b)}"
    merged["tags"] = list(dict.fromkeys([*a.get("tags", []), *b.get("tags", [])]))
    merged["parameters"] = _merge_parameters(a.get("parameters", []), b.get("parameters", []))
    merged["responses"] = _merge_responses(a["responses"], b["responses"])
    return merged


def _errors_are_error_bodies(doc: dict[str, Any]) -> None:
    """Every 4xx/5xx answer of every operation is an ErrorBody (as the handlers answer)."""
    for item in doc["paths"].values():
        for op in item.values():
            for code, response in op["responses"].items():
                if code[0] in "45":
                    response["content"] = {"application/json": {"schema": _ERROR_REF}}
    schemas = doc.get("components", {}).get("schemas", {})
    for name in _FASTAPI_SCHEMAS:
        schemas.pop(name, None)


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document, with routes sharing a path merged into one operation."""
    groups = _groups(app)
    depth = max((len(g) for g in groups), default=1)
    docs = [
        get_openapi(
            title=app.title,
            version=app.version,
            openapi_version=app.openapi_version,
            description=app.description,
            routes=[g[i] for g in groups if len(g) > i],
            tags=app.openapi_tags,
            servers=app.servers,
        )
        for i in range(depth)
    ]
    doc = docs[0]
    for extra in docs[1:]:
        for path, item in extra["paths"].items():
            for method, op in item.items():
                doc["paths"][path][method] = _merge(doc["paths"][path][method], op)
        schemas = extra.get("components", {}).get("schemas", {})
        doc.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
    _errors_are_error_bodies(doc)
    return doc


def install(app: FastAPI) -> None:
    """Serve :func:`openapi_document` at ``/openapi.json`` (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi_document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


fallback_router = APIRouter()
_NOT_FOUND = error_responses(404)


@fallback_router.get(
    "/layers/{layer_id}/{period}/tiles/{z}/{x}/{y}.{format}",
    include_in_schema=False,
    response_model=None,
    responses=_NOT_FOUND,
)
@fallback_router.get(
    "/layers/{layer_id}/{period}/legend.json",
    include_in_schema=False,
    response_model=None,
    responses=_NOT_FOUND,
)
def no_such_layer() -> NoReturn:
    """An id of no layer family (the family routes match ``raster.*`` and village ids)."""
    raise LayerNotFound("layer_id: no such layer; see GET /layers", parameter="layer_id")
