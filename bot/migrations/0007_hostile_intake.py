# expand-contract: Order.order_id and Signal.event_id gained an index and room (max_length up); the previous release reads and writes them unchanged
from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import UniqueConstraint

# SQLite cannot drop a column's UNIQUE in place: tortoise rebuilds the table for AlterField and the
# rebuilt table has none of its indexes. Put them back (PostgreSQL alters in place and keeps them).
_SQLITE_INDEXES = (
    'CREATE INDEX IF NOT EXISTS "idx_orders_externa_18e6af" ON "orders" ("external_userid")',
    'CREATE INDEX IF NOT EXISTS "idx_orders_unionid_92eff1" ON "orders" ("unionid")',
    'CREATE INDEX IF NOT EXISTS "idx_orders_paid_at_2ca315" ON "orders" ("paid_at")',
    'CREATE INDEX IF NOT EXISTS "idx_orders_custome_293189" ON "orders" ("customer_id", "paid_at")',
    'CREATE INDEX IF NOT EXISTS "idx_orders_order_id_hi0007" ON "orders" ("order_id")',
    'CREATE INDEX IF NOT EXISTS "idx_signal_unionid_a1c9f6" ON "signal" ("unionid")',
    'CREATE INDEX IF NOT EXISTS "idx_signal_custome_e9e519" ON "signal" ("customer_id", "type", "occurred_at")',
    'CREATE INDEX IF NOT EXISTS "idx_signal_type_9d2851" ON "signal" ("type", "occurred_at")',
    'CREATE INDEX IF NOT EXISTS "idx_signal_event_id_hi0007" ON "signal" ("event_id")',
)


async def _restore_sqlite_indexes(apps: Any, schema_editor: Any) -> None:
    if schema_editor.client.capabilities.dialect == "sqlite":
        for statement in _SQLITE_INDEXES:
            await schema_editor.client.execute_script(statement)
    else:  # rows written by plain SQL (benches, other tools) name no sender: ""
        await schema_editor.client.execute_script("ALTER TABLE orders ALTER COLUMN sender SET DEFAULT ''")
        await schema_editor.client.execute_script("ALTER TABLE guide ALTER COLUMN role_source SET DEFAULT ''")


class Migration(migrations.Migration):
    dependencies = [('scrm', '0006_outbox_claim')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Guide',
            name='role_source',
            field=fields.CharField(default='', max_length=8),
        ),
        ops.AlterField(
            model_name='Order',
            name='order_id',
            field=fields.CharField(db_index=True, max_length=64),
        ),
        ops.AddField(
            model_name='Order',
            name='sender',
            field=fields.CharField(default='', max_length=64),
        ),
        ops.AddConstraint(
            model_name='Order',
            constraint=UniqueConstraint(fields=('sender', 'order_id'), name=None),
        ),
        ops.AlterModelOptions(
            name='Signal',
            options={'table': 'signal', 'app': 'scrm', 'unique_together': (('source', 'event_id'),), 'indexes': [Index(fields=['customer_id', 'type', 'occurred_at']), Index(fields=['type', 'occurred_at'])], 'pk_attr': 'id', 'table_description': 'A shop behaviour signal (browse, add_to_cart, order_paid …), de-duplicated by (source, event_id).'},
        ),
        ops.AlterField(
            model_name='Signal',
            name='event_id',
            field=fields.CharField(db_index=True, max_length=96),
        ),
        ops.AddConstraint(
            model_name='Signal',
            constraint=UniqueConstraint(fields=('source', 'event_id'), name=None),
        ),
        ops.RunPython(_restore_sqlite_indexes, ops.RunPython.noop),
    ]
