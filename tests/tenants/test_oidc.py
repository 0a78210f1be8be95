"""People in production (issue 11): OpenID Connect tokens verified against a JWKS made here and served on
loopback (discovery, RS256 and ES256, audience, expiry, key rotation), claims mapped to role and tenant; the
built-in issuer still works beside it."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from service.app import create_app
from service.settings import Settings
from tests.conftest import JWT_SECRET, auth
from tests.factories import assert_problem


class Provider:
    """An identity provider on loopback: discovery document and JWKS, keys made in the test."""

    def __init__(self):
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.published = {"rsa-1": self.rsa, "ec-1": self.ec}
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": provider.issuer, "jwks_uri": f"{provider.issuer}/jwks"}
                elif self.path == "/jwks":
                    body = {"keys": [provider.jwk(kid, key) for kid, key in provider.published.items()]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def jwk(kid, key):
        rsa_key = isinstance(key, rsa.RSAPrivateKey)
        algorithm = jwt.algorithms.RSAAlgorithm if rsa_key else jwt.algorithms.ECAlgorithm
        return {**json.loads(algorithm.to_jwk(key.public_key())), "kid": kid, "use": "sig"}

    def token(self, kid="rsa-1", audience="seatwise", ttl=300, **claims):
        key = self.published.get(kid) or self.rsa
        algorithm = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
        now = int(time.time())
        body = {"iss": self.issuer, "aud": audience, "sub": "user-1", "iat": now, "exp": now + ttl, **claims}
        return jwt.encode(body, key, algorithm=algorithm, headers={"kid": kid})


@pytest.fixture(scope="module")
def provider():
    made = Provider()
    yield made
    made.server.shutdown()


@pytest.fixture
async def oidc_client(db, provider, tmp_path):
    settings = Settings(jwt_secret=JWT_SECRET, data_dir=tmp_path, rate_limit="", oidc_issuer=provider.issuer,
                        oidc_role_claim="realm_access.roles",
                        oidc_role_map={"cs-admins": "admin", "cs-ops": "ops", "brand-users": "client"})
    app = create_app(settings, db=db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        yield client


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


async def test_rs256_and_es256_tokens_map_their_claims(oidc_client, provider, world):
    admin = provider.token(realm_access={"roles": ["cs-ops", "cs-admins"]})
    me = (await oidc_client.post("/graphql", json={"query": "{ me { role subject } }"},
                                 headers=bearer(admin))).json()
    assert me["data"]["me"] == {"role": "admin", "subject": "user-1"}
    brand = provider.token(kid="ec-1", realm_access={"roles": ["brand-users"]},
                           seatwise_tenant=world.tenant_a.slug)
    shops = (await oidc_client.get("/v1/shops", headers=bearer(brand))).json()["items"]
    assert {s["tenant_id"] for s in shops} == {str(world.tenant_a.id)}
    # The built-in issuer is still accepted beside the provider.
    assert (await oidc_client.get("/v1/sites", headers=auth("ops"))).status_code == 200


@pytest.mark.parametrize("claims", [
    {"audience": "someone-else", "realm_access": {"roles": ["cs-ops"]}},
    {"ttl": -60, "realm_access": {"roles": ["cs-ops"]}},
    {"realm_access": {"roles": ["unmapped"]}},
    {"realm_access": {"roles": ["brand-users"]}},  # a client without a brand
    {"realm_access": {"roles": ["brand-users"]}, "seatwise_tenant": "no-such-brand"},
    {"kid": "unpublished", "realm_access": {"roles": ["cs-ops"]}},
])
async def test_bad_provider_tokens_are_401(oidc_client, provider, claims):
    token = provider.token(**claims)
    assert_problem(await oidc_client.get("/v1/shops", headers=bearer(token)), 401)


async def test_a_rotated_key_is_fetched_again(oidc_client, provider, db, tmp_path):
    provider.published["rsa-2"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    oidc = oidc_client._transport.app.state.oidc
    oidc.fetched -= 60  # the last fetch is older than the refetch guard
    token = provider.token(kid="rsa-2", realm_access={"roles": ["cs-ops"]}, jti=str(uuid.uuid4()))
    assert (await oidc_client.get("/v1/sites", headers=bearer(token))).status_code == 200
