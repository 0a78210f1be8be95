"""The OpenAPI document tells the truth about errors: the bearer scheme is declared (Swagger's Authorize
button), every error an operation may answer is documented as problem+json, and real error answers of each
kind validate against the documented schema."""

from __future__ import annotations

import uuid

import pytest
from jsonschema import Draft202012Validator

from tests.conftest import auth

STATUSES = ("401", "403", "404", "409", "413", "415", "422", "429")


@pytest.fixture(scope="module")
async def document(client) -> dict:
    return (await client.get("/openapi.json")).json()


async def test_the_bearer_scheme_and_problem_json_are_documented(document):
    assert document["components"]["securitySchemes"]["bearer"] == {
        **document["components"]["securitySchemes"]["bearer"], "type": "http", "scheme": "bearer"}
    schemas = document["components"]["schemas"]
    assert "ProblemDetails" in schemas and "HTTPValidationError" not in schemas
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path in ("/healthz", "/readyz"):
                continue
            assert operation["security"] == [{"bearer": []}], (method, path)
            documented = {s for s in operation["responses"] if s in STATUSES}
            expected = {"401", "403", "404", "422", "429"} | (
                {"409", "413", "415"} if method in ("post", "put", "patch") else set())
            assert documented == expected, (method, path)
            for status in documented:
                content = operation["responses"][status]["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)


async def _real_errors(client, world) -> list[tuple[str, str, object]]:
    """(method, path template, answer) for a real error of every kind the API can be made to give."""
    ops = auth("ops")
    slug = f"dup-{uuid.uuid4().hex[:6]}"
    await client.post("/v1/tenants", json={"slug": slug, "name": "x", "tier": "KA"}, headers=ops)
    too_many = b"{}\n" * 100_001
    brand = {"slug": slug, "name": "x", "tier": "KA"}
    site = {"name": "x", "city": "c", "seat_capacity": "lots"}
    return [
        ("get", "/v1/shops", await client.get("/v1/shops")),
        ("get", "/v1/sites", await client.get("/v1/sites", headers=world.client_of("a"))),
        ("get", "/v1/shops/{shop_id}", await client.get(f"/v1/shops/{uuid.uuid4()}", headers=ops)),
        ("post", "/v1/tenants", await client.post("/v1/tenants", json=brand, headers=ops)),
        ("post", "/v1/conversations", await client.post(
            "/v1/conversations", content=too_many, headers=ops | {"content-type": "application/x-ndjson"})),
        ("post", "/v1/conversations", await client.post("/v1/conversations", content=b"x",
                                                        headers=ops | {"content-type": "text/plain"})),
        ("post", "/v1/sites", await client.post("/v1/sites", json=site, headers=ops)),
    ]


async def test_real_error_answers_validate_against_the_documented_schema(client, world, document):
    schema = {"$ref": "#/components/schemas/ProblemDetails", "components": document["components"]}
    validator = Draft202012Validator(schema)
    seen = set()
    for method, path, answer in await _real_errors(client, world):
        status = str(answer.status_code)
        seen.add(status)
        assert answer.headers["content-type"] == "application/problem+json", (path, answer.text)
        assert status in document["paths"][path][method]["responses"], (method, path, status)
        errors = list(validator.iter_errors(answer.json()))
        assert not errors, (path, answer.json(), errors)
    assert seen == {"401", "403", "404", "409", "413", "415", "422"}


async def test_a_conflict_says_what_collided_in_words(client):
    slug = f"twice-{uuid.uuid4().hex[:6]}"
    body = {"slug": slug, "name": "x", "tier": "KA"}
    await client.post("/v1/tenants", json=body, headers=auth("ops"))
    again = (await client.post("/v1/tenants", json=body, headers=auth("ops"))).json()
    assert again["detail"] == f"tenant '{slug}' already exists (the same slug)"
    bad = (await client.post("/v1/tenants", json=body | {"slug": "Not A Slug"}, headers=auth("ops"))).json()
    assert bad["errors"][0]["field"] == "body.slug" and "^" not in bad["errors"][0]["reason"]
    assert "lowercase letters, digits and hyphens" in bad["errors"][0]["reason"]
