"""Roles and the permissions they grant."""

from __future__ import annotations

import enum

from seiketsu.tenancy.models import Role


class Permission(enum.StrEnum):
    ORGANIZATION_CREATE = "organization.create"
    ORGANIZATION_READ = "organization.read"
    ORGANIZATION_UPDATE = "organization.update"
    ORGANIZATION_DELETE = "organization.delete"
    USER_READ = "user.read"
    USER_CREATE = "user.create"
    USER_UPDATE = "user.update"
    USER_DELETE = "user.delete"
    VOICE_READ = "voice.read"
    VOICE_MANAGE = "voice.manage"
    LEAD_READ = "lead.read"
    LEAD_MANAGE = "lead.manage"
    LEAD_UPDATE = "lead.update"
    INTEGRATION_READ = "integration.read"
    INTEGRATION_CREATE = "integration.create"
    INTEGRATION_UPDATE = "integration.update"
    INTEGRATION_DELETE = "integration.delete"
    ANALYTICS_READ = "analytics.read"
    WEBHOOK_READ = "webhook.read"
    WEBHOOK_MANAGE = "webhook.manage"


P = Permission

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.SUPER_ADMIN: frozenset(Permission),
    Role.ORG_ADMIN: frozenset(Permission) - {P.ORGANIZATION_CREATE, P.ORGANIZATION_DELETE},
    Role.MANAGER: frozenset(
        {
            P.ORGANIZATION_READ,
            P.USER_READ,
            P.VOICE_READ,
            P.VOICE_MANAGE,
            P.LEAD_READ,
            P.LEAD_MANAGE,
            P.LEAD_UPDATE,
            P.INTEGRATION_READ,
            P.ANALYTICS_READ,
            P.WEBHOOK_READ,
        }
    ),
    Role.AGENT: frozenset({P.ORGANIZATION_READ, P.VOICE_READ, P.VOICE_MANAGE, P.LEAD_READ, P.LEAD_UPDATE}),
}


def permissions_for(role: Role) -> frozenset[Permission]:
    return ROLE_PERMISSIONS[role]


def can_assign(actor: Role, target: Role) -> bool:
    """A user may grant only roles at or below their own; only super admins make super admins."""
    order = [Role.AGENT, Role.MANAGER, Role.ORG_ADMIN, Role.SUPER_ADMIN]
    return order.index(target) <= order.index(actor)
