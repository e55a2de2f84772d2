"""Who may see which store, guide and customer: one answer for chat commands and the sidebar.

- Operators, HQ and admins see every store, guide and customer.
- A store manager sees their store: its guides, its codes, and the customers a guide of the store
  serves now (a relation the guide has not deleted nor handed over; a customer who deleted the guide
  stays visible as the store's lost customer). Once handed over to another store, a customer is theirs.
- A guide, and a store manager without a store, see only themselves: their own code and the
  customers they follow now.

Chat (``customers/lookup.py``, ``channels/chat.py``) and the sidebar (``sidebar/access.py``) ask here;
a refusal is answered like "not found", so ids of others cannot be probed.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.queryset import QuerySet

from customers.models import Customer, Role

__all__ = ["SEE_ALL", "Scope"]

SEE_ALL = frozenset({Role.OPERATOR, Role.HQ, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class Scope:
    """What one member sees; built from the caller (chat) or the viewer (sidebar)."""

    userid: str
    role: Role
    guide_id: int
    store_id: int | None

    @classmethod
    def of(cls, userid: str, role: str, guide_id: int, store_id: int | None) -> Scope:
        return cls(userid, Role(role), guide_id, store_id)

    @property
    def everything(self) -> bool:
        return self.role in SEE_ALL

    @property
    def store(self) -> int | None:
        """The store a manager sees; None for a guide or a manager without a store (they see themselves)."""
        return self.store_id if self.role == Role.STORE_MANAGER else None

    def customers(self) -> QuerySet[Customer]:
        """The customers this member may see (use ``.distinct()``: one row per matching relation)."""
        if self.everything:
            return Customer.all()
        if self.store is not None:
            return Customer.filter(relationships__guide__store_id=self.store,
                                   relationships__deleted_by_guide_at__isnull=True)
        return Customer.filter(
            relationships__guide_id=self.guide_id,
            relationships__deleted_by_customer_at__isnull=True,
            relationships__deleted_by_guide_at__isnull=True,
        )

    async def sees_customer(self, customer_id: int) -> bool:
        return self.everything or await self.customers().filter(id=customer_id).exists()

    def sees_code(self, store_id: int | None, guide_userid: str | None) -> bool:
        """A channel code: a store's (or its guides'), or one's own personal code."""
        if self.everything or (guide_userid is not None and guide_userid == self.userid):
            return True
        return self.store is not None and store_id == self.store

    def sees_all_stores(self) -> bool:
        """Figures across stores (渠道数据 without a store): operators, HQ and admins."""
        return self.everything
