from tortoise import migrations
from tortoise.migrations import operations as ops
from leads.models import LeadStatus
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('scrm', '0002_customers')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Lead',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=160)),
                ('customer', fields.ForeignKeyField('scrm.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='leads', on_delete=OnDelete.CASCADE)),
                ('pattern', fields.CharField(max_length=32)),
                ('priority', fields.IntField(default=0)),
                ('score', fields.FloatField(default=0.0)),
                ('guide_userid', fields.CharField(default='', db_index=True, max_length=64)),
                ('owner_userid', fields.CharField(default='', max_length=64)),
                ('store_code', fields.CharField(default='', max_length=32)),
                ('reason', fields.CharField(default='', max_length=256)),
                ('facts', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('status', fields.CharEnumField(default=LeadStatus.HELD, description='HELD: held\nSENT: sent\nFOLDED: folded\nSUPPRESSED: suppressed\nUNROUTED: unrouted\nCONTACTED: contacted\nSNOOZED: snoozed\nDISMISSED: dismissed', enum_type=LeadStatus, max_length=12)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('card_seq', fields.SmallIntField(default=0)),
                ('response_code', fields.CharField(default='', max_length=64)),
                ('digest_id', fields.BigIntField(null=True)),
                ('remind_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('action_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('contacted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('converted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('converted_order_id', fields.CharField(null=True, max_length=64)),
                ('converted_amount', fields.DecimalField(null=True, max_digits=14, decimal_places=2)),
            ],
            options={'table': 'lead', 'app': 'scrm', 'indexes': [Index(fields=['guide_userid', 'sent_at']), Index(fields=['customer_id', 'created_at']), Index(fields=['status', 'remind_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LeadDigest',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('guide_userid', fields.CharField(db_index=True, max_length=64)),
                ('count', fields.IntField()),
                ('sent_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'lead_digest', 'app': 'scrm', 'pk_attr': 'id', 'table_description': 'One 还有 N 条线索 card: the folded leads it carried point at it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MemberIdentity',
            fields=[
                ('member_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('external_userid', fields.CharField(null=True, db_index=True, max_length=64)),
                ('unionid', fields.CharField(null=True, db_index=True, max_length=64)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'member_identity', 'app': 'scrm', 'pk_attr': 'member_id', 'table_description': "The shop's member id → the customer's WeChat ids, so member-only signals find their customer."},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='Signal',
            index=Index(fields=['type', 'occurred_at']),
        ),
    ]
