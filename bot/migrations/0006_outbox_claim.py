from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('scrm', '0005_sop')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='OrderItem',
            index=Index(fields=['order_id']),
        ),
        ops.AddField(
            model_name='Outbox',
            name='claimed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
