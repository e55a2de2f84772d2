# Drops the foreign-key constraints of campaign_target on PostgreSQL: the model has declared them db_constraint=False
# since 0012, but the migration engine created them anyway. Each cost a lookup per row — a plan of 1,000,000
# customers spent more time in the three triggers than in the insert itself. Customers, guides and campaigns are never
# deleted by the product, and the targets are selected from those tables in the same statement that writes them.
# And a fillfactor of 50: a target is written three times (planned, its task's msgid, WeCom's result); with room on
# its page the result's update is HOT (no index entries), without it only where autovacuum had cleaned the page since
# the send (a sync right after the send of 200,000 customers: 37% HOT, and 100% with this).
# Only constraints and a storage parameter change: no column, table or index the previous release uses. SQLite is
# left as it is (it cannot drop a constraint without rebuilding the table, and its embedded databases are small).
from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops


async def _lighter_targets(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    if client.capabilities.dialect != "postgres":
        return
    rows = await client.execute_query_dict(
        "SELECT conname FROM pg_constraint WHERE conrelid = 'campaign_target'::regclass AND contype = 'f'")
    for row in rows:
        await client.execute_script(f'ALTER TABLE campaign_target DROP CONSTRAINT IF EXISTS "{row["conname"]}"')
    await client.execute_script("ALTER TABLE campaign_target SET (fillfactor = 50)")


class Migration(migrations.Migration):
    dependencies = [('scrm', '0015_sop_occurrence')]

    initial = False

    operations = [
        ops.RunPython(_lighter_targets, ops.RunPython.noop),
    ]
