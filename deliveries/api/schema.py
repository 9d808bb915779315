"""The OpenAPI schema's errors: every operation may answer a problem (deliveries.api.problems),
and the schema says so once here rather than on each view."""

from __future__ import annotations

from typing import Any

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details; branch on `code` (docs/users/api.md).",
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {"type": "object", "description": "invalid_request: the fields' errors"},
        "rule": {"type": "string", "description": "upload_refused: the rule that refused"},
    },
    "required": ["type", "title", "status", "detail", "code"],
}

EVERY_OPERATION = {
    "401": "Ingen, ukendt, udløbet eller tilbagekaldt API-nøgle.",
    "404": "Findes ikke, eller du har ikke adgang til det.",
    "429": "For mange forespørgsler med denne API-nøgle (se Retry-After).",
}
UPLOADS = {
    "413": "Filen er over upload-grænsen.",
    "422": "Et felt, filen eller en regel for uploaden afviste forespørgslen.",
}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


def problem_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular's postprocessing hook: the Problem component, and the problems each
    operation may answer (uploads: also 413 and 422; an upload with a key: also 409)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            expected = dict(EVERY_OPERATION)
            if method == "post":
                expected |= UPLOADS
            if method == "post" and path == "/api/v1/deliveries/":
                expected["409"] = "Idempotency-Key er i brug af en forespørgsel, der kører."
            for status, description in expected.items():
                responses.setdefault(status, _problem(description))
    return result
