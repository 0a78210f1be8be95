"""GraphQL documents that would cost more than they are worth (issue 11): deep selection sets, huge lists of
arguments, broken syntax; each is refused as a GraphQL error or a 4xx, never a server fault."""

from __future__ import annotations

import pytest

from tests.conftest import auth

DOCUMENTS = [
    "{ " + "me { " * 3000 + "role" + " }" * 3000 + " }",
    "{ shops(q: " + "[" * 3000 + '"x"' + "]" * 3000 + ") { items { id } } }",
    "{ me { role } " * 2,
    "query { " + " ".join(f"a{i}: me {{ role }}" for i in range(400)) + " }",
    "\x00",
]


@pytest.mark.parametrize("document", DOCUMENTS, ids=["deep", "deep-list", "broken", "aliases", "nul"])
async def test_costly_documents_are_refused_cleanly(client, document):
    r = await client.post("/graphql", json={"query": document}, headers=auth("admin"))
    assert r.status_code < 500, r.text
    if r.status_code == 200:
        errors = r.json()["errors"]
        assert errors and all((e.get("extensions") or {}).get("status", 400) < 500 for e in errors), errors
