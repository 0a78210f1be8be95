"""The GraphQL schema, assembled from each domain's gql module (merge_types keeps each domain's fields in its
own folder). This is the composition root: a domain may contribute fields to another domain's type (the SLA
fields of Shop), and they are joined here, so no domain's door imports a higher one's."""

from __future__ import annotations

import strawberry
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.tools import merge_types

from service.audit.gql import AuditQuery
from service.capacity.gql import CapacityMutation, CapacityQuery
from service.conversations.gql import ConversationMutation, ConversationQuery
from service.finance.gql import FinanceMutation, FinanceQuery
from service.kit.gql import ProblemErrors, Schema, extend_type
from service.scorecard.gql import ScorecardMutation, ScorecardQuery
from service.seating.gql import SeatingMutation, SeatingQuery
from service.settings import Settings
from service.shops.gql import ShopMutation, ShopQuery, ShopType
from service.sla.gql import ShopSlaFields, SlaMutation, SlaQuery
from service.workforce.gql import AgentMutations, SiteMutations, WorkforceQuery
from tenants.gql import TenantMutation, TenantQuery

extend_type(ShopType, ShopSlaFields)

Query = merge_types("Query", (TenantQuery, ShopQuery, WorkforceQuery, ConversationQuery, SlaQuery,
                              CapacityQuery, SeatingQuery, FinanceQuery, ScorecardQuery, AuditQuery))
Mutation = merge_types("Mutation", (TenantMutation, ShopMutation, SiteMutations, AgentMutations, SlaMutation,
                                    CapacityMutation, ConversationMutation, SeatingMutation,
                                    FinanceMutation, ScorecardMutation))


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    return Schema(
        query=Query,
        mutation=Mutation,
        extensions=[
            lambda: QueryDepthLimiter(max_depth=settings.graphql_max_depth),
            lambda: MaxAliasesLimiter(max_alias_count=settings.graphql_max_aliases),
            lambda: MaxTokensLimiter(max_token_count=settings.graphql_max_tokens),
            ProblemErrors,
        ],
    )


def sdl() -> str:
    return build_schema().as_str() + "\n"
