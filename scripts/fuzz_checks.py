"""schemathesis checks for scripts/fuzz.sh.

- `problem_json_with_known_code`: every error answer is RFC 9457 problem+json whose `code`
  is one the document enumerates and whose `status` member is the HTTP status.
- `no_server_fault`: no 5xx at all. Fuzzed input (bodies, paths, headers such as
  Idempotency-Key and Consistency-Token) is the caller's fault and must get a 4xx; a fuzz
  run neither overloads the service nor takes its database away, so even the contract's
  503s would be a defect here (a fuzzed token naming a write the store has not made must
  be refused at once, not waited on). Stands in for `not_a_server_error`.
"""

import json

import schemathesis


def _header(response, name):
    value = response.headers.get(name) or response.headers.get(name.lower()) or ""
    if isinstance(value, list):
        value = value[0] if value else ""
    return value


def _carries_token(case):
    headers = {name.lower() for name in (case.headers or {})}
    return "consistency-token" in headers or "consistencyToken" in (case.query or {})


@schemathesis.check
def no_server_fault(ctx, response, case):
    if response.status_code < 500:
        return None
    token = " to a request carrying a Consistency-Token" if _carries_token(case) else ""
    raise AssertionError(
        f"server error {response.status_code}{token}: {response.content[:300]!r}"
    )


@schemathesis.check
def problem_json_with_known_code(ctx, response, case):
    if response.status_code < 400:
        return None
    content_type = _header(response, "content-type")
    if not content_type.startswith("application/problem+json"):
        raise AssertionError(
            f"{response.status_code} answered as {content_type!r}, not application/problem+json"
        )
    try:
        body = json.loads(response.content)
    except ValueError as error:
        raise AssertionError(f"problem body is not JSON: {error}") from None
    schemas = case.operation.schema.raw_schema["components"]["schemas"]
    known = set(schemas["ErrorCode"]["enum"])
    if body.get("code") not in known:
        raise AssertionError(f"unknown problem code {body.get('code')!r}; known: {sorted(known)}")
    if body.get("status") != response.status_code:
        raise AssertionError(
            f"problem status {body.get('status')!r} differs from HTTP {response.status_code}"
        )
    for member in ("type", "title", "detail"):
        if not isinstance(body.get(member), str):
            raise AssertionError(f"problem member {member!r} missing or not a string")
    return None
