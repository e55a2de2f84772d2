from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('scrm', '0003_leads')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CommandAudit',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event_key', fields.CharField(unique=True, max_length=128)),
                ('userid', fields.CharField(db_index=True, max_length=64)),
                ('role', fields.CharField(default='', max_length=16)),
                ('command', fields.CharField(default='', max_length=32)),
                ('text', fields.CharField(default='', max_length=256)),
                ('result', fields.CharField(default='pending', max_length=16)),
                ('detail', fields.CharField(default='', max_length=256)),
                ('reply', fields.TextField(default='', unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'command_audit', 'app': 'scrm', 'pk_attr': 'id', 'table_description': 'One row per chat command: who, what, and how it ended (ok, refused, unknown …).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Handover',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('handover_userid', fields.CharField(max_length=64)),
                ('takeover_userid', fields.CharField(max_length=64)),
                ('resigned', fields.BooleanField(default=False)),
                ('requested_by', fields.CharField(default='', max_length=64)),
                ('status', fields.CharField(default='open', db_index=True, max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'handover', 'app': 'scrm', 'pk_attr': 'id', 'table_description': "One ``交接``: a guide's customers moved to another guide through WeCom's transfer APIs."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='HandoverItem',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('handover', fields.ForeignKeyField('scrm.Handover', source_field='handover_id', db_constraint=True, to_field='id', related_name='items', on_delete=OnDelete.CASCADE)),
                ('external_userid', fields.CharField(max_length=64)),
                ('status', fields.CharField(default='waiting', max_length=16)),
                ('reason', fields.CharField(default='', max_length=64)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'handover_item', 'app': 'scrm', 'unique_together': (('handover', 'external_userid'),), 'indexes': [Index(fields=['external_userid', 'status'])], 'pk_attr': 'id', 'table_description': 'One customer of a hand-over and where its transfer stands: waiting, moved or failed.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RobotSubscription',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('robot', fields.CharField(unique=True, max_length=64)),
                ('created_by', fields.CharField(default='', max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'robot_subscription', 'app': 'scrm', 'pk_attr': 'id', 'table_description': 'A group robot (named in ``SCRM_ROBOT_KEYS``) that receives the scheduled leaderboards.'},
            bases=['Model'],
        ),
    ]
