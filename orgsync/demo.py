"""The organisation chapter of ``make demo``: stores and members come from WeCom's address book."""

from __future__ import annotations

from typing import TYPE_CHECKING

from customers.models import Guide
from orgsync.service import sync_org

if TYPE_CHECKING:
    from simulator.narrator import Narrator

__all__ = ["chapter"]

MEMBERS = (("guide_sh01_a", "王小美", 11), ("guide_sh01_b", "李晓", 11), ("manager_sh01", "张店长", 11),
           ("guide_hz01_a", "陈静", 12), ("manager_hz01", "刘店长", 12),
           ("guide_hz01_b", "赵敏", 12))  # 赵敏 joined last week; org.yaml never heard of her


async def chapter(n: Narrator) -> None:
    """The demo chapter (its feature's ``demo`` slot, bot/feature.py)."""
    deps = n.deps
    n.say("The organisation comes from WeCom's address book (scrm sync org)")
    # WeCom's departments: 门店 → 南京西路店 (11), 湖滨店 (12); org.yaml ties them to sh01 / hz01.
    n.add_department(2, "门店")
    n.add_department(11, "南京西路店", parent=2, leaders=["manager_sh01"])
    n.add_department(12, "湖滨店", parent=2, leaders=["manager_hz01"])
    for userid, name, department in MEMBERS:
        n.add_member(userid, name, department=[department])
    result = await sync_org(deps)
    n.show(f"department/list, user/list_id, user/get ×{result.members}: {result.departments} departments, "
           f"{result.stores} stores, {result.members} members ({result.created} new)")
    newcomer = await Guide.get(userid="guide_hz01_b").prefetch_related("store")
    n.show(f"赵敏 (not in org.yaml) is a guide of {newcomer.store.name if newcomer.store else '-'} "
           "because WeCom says she works in that department")
