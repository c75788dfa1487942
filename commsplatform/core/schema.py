"""OpenAPI schema hooks (drf-spectacular): the error answers every operation can give, documented once.

Views document their successful answers; the errors come from the kernel (commsplatform.core.api's exception
handler: `{"detail", "code", "fields"?}`, or DRF's per-field lists for serializer validation) and from the
framework (authentication, permissions, throttles), so they are added here to each operation that lacks them.
"""

from typing import Any

ERROR_COMPONENT = "Error"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "What went wrong: `detail` says it in words, `code` in a stable word, `fields` per field; a serializer's "
        "validation answers with a list of messages per field instead."
    ),
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": True},
    },
    "additionalProperties": True,
}
# Status code -> description; 400 only where the operation takes input, 409 only where it changes something.
ERRORS = {
    400: "Invalid input; nothing changed.",
    401: "Not signed in (or wrong credentials).",
    403: "Signed in, but not allowed to do this here.",
    404: "No such object, or not visible to the caller.",
    409: "The object is not in a state that allows this; nothing changed.",
    429: "Too many requests: try again after the number of seconds in Retry-After.",
}
METHODS = {"get", "put", "post", "patch", "delete"}


def _applies(code: int, method: str, operation: dict[str, Any]) -> bool:
    takes_input = method != "get" or bool(operation.get("parameters"))
    if code == 400:
        return takes_input
    if code == 409:
        return method != "get"
    return True


def _admit_validation_errors(response: dict[str, Any] | None, reference: dict[str, str]) -> None:
    """A view's own 400 body (e.g. an upload's row errors) may also be a serializer's field errors."""
    content = (response or {}).get("content", {}).get("application/json")
    if content is None or content.get("schema") == reference:
        return
    content["schema"] = {"anyOf": [content["schema"], reference]}


def postprocess_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Add the shared error answers (as application/json `Error`) to every operation that does not name its own."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(ERROR_COMPONENT, ERROR_SCHEMA)
    reference = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for item in result.get("paths", {}).values():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            _admit_validation_errors(responses.get("400"), reference)
            for code, description in ERRORS.items():
                if str(code) in responses or not _applies(code, method, operation):
                    continue
                responses[str(code)] = {
                    "description": description,
                    "content": {"application/json": {"schema": reference}},
                }
    return result
