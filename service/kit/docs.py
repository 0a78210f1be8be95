"""The API's documentation pages, served with their scripts from installed packages (never a CDN: they must
load offline and where public CDNs are slow or blocked): Swagger UI and ReDoc from fastapi-offline, GraphiQL
(with React) from graphene-django-graphiql-static, whose static files need nothing of Django."""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

DOCS_ASSETS = "/static-offline-docs"  # fastapi-offline's own mount
GRAPHIQL_ASSETS = "/static-graphiql"
_GRAPHIQL_PACKAGE = "graphene_django_graphiql_static"

GRAPHIQL_PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Seatwise GraphiQL</title>
  <style>html, body, #graphiql {{ height: 100%; margin: 0; overflow: hidden; width: 100%; }}</style>
  <link rel="stylesheet" href="{GRAPHIQL_ASSETS}/graphiql.min.css">
</head>
<body>
  <div id="graphiql">Loading GraphiQL...</div>
  <script src="{GRAPHIQL_ASSETS}/react.production.min.js"></script>
  <script src="{GRAPHIQL_ASSETS}/react-dom.production.min.js"></script>
  <script src="{GRAPHIQL_ASSETS}/graphiql.min.js"></script>
  <script>
    // Paste `{{"Authorization": "Bearer <token>"}}` into the Headers tab (kept in this browser).
    const fetcher = GraphiQL.createFetcher({{url: window.location.pathname}});
    ReactDOM.render(
      React.createElement(GraphiQL, {{
        fetcher: fetcher, shouldPersistHeaders: true,
        defaultQuery: "# Send your token in the Headers tab: {{\\"Authorization\\": \\"Bearer ...\\"}}\\n"
          + "{{ me {{ role tenant {{ slug }} }} }}\\n",
      }}),
      document.getElementById("graphiql"));
  </script>
</body>
</html>
"""


def documented_app(**kwargs: Any) -> FastAPI:
    """A FastAPI app whose /docs and /redoc load Swagger UI and ReDoc from fastapi-offline's files."""
    return FastAPIOffline(static_url=DOCS_ASSETS, swagger_ui_parameters={"persistAuthorization": True},
                          **kwargs)


def mount_graphiql_assets(app: FastAPI) -> None:
    folder = resources.files(_GRAPHIQL_PACKAGE) / "static" / _GRAPHIQL_PACKAGE
    app.mount(GRAPHIQL_ASSETS, StaticFiles(directory=str(folder)), name="graphiql-assets")
