from tortoise import migrations
from tortoise.migrations import operations as ops
from bot.models.customers import Role, TagSource
from decimal import Decimal
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('scrm', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Customer',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('external_userid', fields.CharField(unique=True, max_length=64)),
                ('unionid', fields.CharField(null=True, db_index=True, max_length=64)),
                ('name', fields.CharField(default='', max_length=128)),
                ('type', fields.SmallIntField(default=1)),
                ('gender', fields.SmallIntField(default=0)),
                ('avatar', fields.CharField(default='', max_length=512)),
                ('corp_name', fields.CharField(default='', max_length=128)),
                ('first_seen_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('first_purchase_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_purchase_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('order_count', fields.IntField(default=0)),
                ('total_spent', fields.DecimalField(default=Decimal('0'), max_digits=14, decimal_places=2)),
                ('birthday', fields.DateField(null=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'customer', 'app': 'scrm', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='GroupChat',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('chat_id', fields.CharField(unique=True, max_length=64)),
                ('name', fields.CharField(default='', max_length=128)),
                ('owner_userid', fields.CharField(default='', max_length=64)),
                ('notice', fields.TextField(default='', unique=False)),
                ('member_count', fields.IntField(default=0)),
                ('dismissed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'group_chat', 'app': 'scrm', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='GroupChatMember',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('chat', fields.ForeignKeyField('scrm.GroupChat', source_field='chat_id', db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.CASCADE)),
                ('userid', fields.CharField(max_length=64)),
                ('type', fields.SmallIntField(default=1)),
                ('join_time', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('join_scene', fields.SmallIntField(default=0)),
            ],
            options={'table': 'group_chat_member', 'app': 'scrm', 'unique_together': (('chat', 'userid'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Outbox',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=160)),
                ('kind', fields.CharField(max_length=32)),
                ('recipient', fields.CharField(max_length=64)),
                ('status', fields.CharField(default='pending', max_length=16)),
                ('error', fields.CharField(default='', max_length=256)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'outbox', 'app': 'scrm', 'pk_attr': 'id', 'table_description': 'One row per message the product sends on an event: the key makes it send-once.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Store',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=32)),
                ('name', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'store', 'app': 'scrm', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ChannelCode',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('state', fields.CharField(unique=True, max_length=30)),
                ('name', fields.CharField(default='', max_length=64)),
                ('store', fields.ForeignKeyField('scrm.Store', source_field='store_id', null=True, db_constraint=True, to_field='id', related_name='channels', on_delete=OnDelete.SET_NULL)),
                ('guide_userid', fields.CharField(null=True, max_length=64)),
                ('campaign', fields.CharField(default='', max_length=64)),
                ('welcome_template', fields.CharField(default='', max_length=64)),
            ],
            options={'table': 'channel_code', 'app': 'scrm', 'pk_attr': 'id', 'table_description': 'A contact-way ``state`` value and what it attributes (mirrors config/channels.yaml).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Guide',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('userid', fields.CharField(unique=True, max_length=64)),
                ('name', fields.CharField(default='', max_length=64)),
                ('store', fields.ForeignKeyField('scrm.Store', source_field='store_id', null=True, db_constraint=True, to_field='id', related_name='guides', on_delete=OnDelete.SET_NULL)),
                ('role', fields.CharEnumField(default=Role.GUIDE, description='GUIDE: guide\nSTORE_MANAGER: store_manager\nOPERATOR: operator\nHQ: hq\nADMIN: admin', enum_type=Role, max_length=16)),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'guide', 'app': 'scrm', 'pk_attr': 'id', 'table_description': 'A WeCom member: guide, store manager, operator, HQ or admin.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Relationship',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('guide', fields.ForeignKeyField('scrm.Guide', source_field='guide_id', db_constraint=True, to_field='id', related_name='relationships', on_delete=OnDelete.CASCADE)),
                ('customer', fields.ForeignKeyField('scrm.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='relationships', on_delete=OnDelete.CASCADE)),
                ('state', fields.CharField(default='', max_length=30)),
                ('channel', fields.ForeignKeyField('scrm.ChannelCode', source_field='channel_id', null=True, db_constraint=True, to_field='id', related_name='relationships', on_delete=OnDelete.SET_NULL)),
                ('add_way', fields.SmallIntField(default=0)),
                ('remark', fields.CharField(default='', max_length=128)),
                ('description', fields.CharField(default='', max_length=512)),
                ('half', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('deleted_by_customer_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('deleted_by_guide_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('transfer_failed_reason', fields.CharField(default='', max_length=32)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'relationship', 'app': 'scrm', 'unique_together': (('guide', 'customer'),), 'pk_attr': 'id', 'table_description': "One guide ↔ customer relation, as WeCom's follow_user, with its history."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SyncState',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('data', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'sync_state', 'app': 'scrm', 'pk_attr': 'name', 'table_description': 'Where a long sync stopped (e.g. the contacts backfill), so it resumes instead of restarting.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TagGroup',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('wecom_id', fields.CharField(unique=True, max_length=64)),
                ('name', fields.CharField(max_length=64)),
                ('order', fields.IntField(default=0)),
                ('deleted', fields.BooleanField(default=False)),
            ],
            options={'table': 'tag_group', 'app': 'scrm', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Tag',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('wecom_id', fields.CharField(unique=True, max_length=64)),
                ('group', fields.ForeignKeyField('scrm.TagGroup', source_field='group_id', db_constraint=True, to_field='id', related_name='tags', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=64)),
                ('order', fields.IntField(default=0)),
                ('deleted', fields.BooleanField(default=False)),
            ],
            options={'table': 'tag', 'app': 'scrm', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CustomerTag',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('customer', fields.ForeignKeyField('scrm.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='tags', on_delete=OnDelete.CASCADE)),
                ('guide', fields.ForeignKeyField('scrm.Guide', source_field='guide_id', db_constraint=True, to_field='id', related_name='customer_tags', on_delete=OnDelete.CASCADE)),
                ('tag', fields.ForeignKeyField('scrm.Tag', source_field='tag_id', db_constraint=True, to_field='id', related_name='customer_tags', on_delete=OnDelete.CASCADE)),
                ('source', fields.CharEnumField(description='RULE: rule\nGUIDE: guide\nWECOM: wecom', enum_type=TagSource, max_length=8)),
                ('rule_id', fields.CharField(default='', max_length=64)),
                ('evidence', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'customer_tag', 'app': 'scrm', 'unique_together': (('customer', 'guide', 'tag'),), 'pk_attr': 'id', 'table_description': 'A tag on one (guide, customer) relation — WeCom keeps tags per member and customer.'},
            bases=['Model'],
        ),
    ]
