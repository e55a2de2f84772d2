from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('scrm', '0012_campaigns')]

    initial = False

    operations = [
        ops.CreateModel(
            name='GroupCode',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=64)),
                ('kind', fields.CharField(max_length=8)),
                ('state', fields.CharField(unique=True, max_length=30)),
                ('store', fields.ForeignKeyField('scrm.Store', source_field='store_id', null=True, db_constraint=True, to_field='id', related_name='group_codes', on_delete=OnDelete.SET_NULL)),
                ('owner_userid', fields.CharField(default='', max_length=64)),
                ('campaign', fields.CharField(default='', max_length=64)),
                ('welcome', fields.CharField(default='', max_length=48)),
                ('config_id', fields.CharField(null=True, unique=True, max_length=64)),
                ('qr_code', fields.CharField(default='', max_length=512)),
                ('room_base_name', fields.CharField(default='', max_length=40)),
                ('room_base_id', fields.IntField(default=1)),
                ('created_by', fields.CharField(default='', max_length=64)),
                ('media_id', fields.CharField(default='', max_length=128)),
                ('media_uploaded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('deleted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'group_code', 'app': 'scrm', 'pk_attr': 'id', 'table_description': 'A group code (群活码): one ``groupchat/add_join_way`` (``kind``: store, config or chat).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='GroupCodeChat',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.ForeignKeyField('scrm.GroupCode', source_field='code_id', db_constraint=True, to_field='id', related_name='chats', on_delete=OnDelete.CASCADE)),
                ('chat_id', fields.CharField(unique=True, max_length=64)),
                ('members', fields.IntField(default=0)),
                ('listed', fields.BooleanField(default=False)),
                ('full_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('unlisted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('added_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'group_code_chat', 'app': 'scrm', 'pk_attr': 'id', 'table_description': 'A group of a code: listed in its join way or not (full, or waiting its turn).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='GroupDailyStat',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('day', fields.DateField()),
                ('owner_userid', fields.CharField(max_length=64)),
                ('new_chat_cnt', fields.IntField(default=0)),
                ('chat_total', fields.IntField(default=0)),
                ('chat_has_msg', fields.IntField(default=0)),
                ('new_member_cnt', fields.IntField(default=0)),
                ('member_total', fields.IntField(default=0)),
                ('member_has_msg', fields.IntField(default=0)),
                ('msg_total', fields.IntField(default=0)),
            ],
            options={'table': 'group_daily_stat', 'app': 'scrm', 'unique_together': (('day', 'owner_userid'),), 'pk_attr': 'id', 'table_description': "One owner's groups on one day, from ``groupchat/statistic``."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='GroupJoin',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('chat_id', fields.CharField(max_length=64)),
                ('external_userid', fields.CharField(max_length=64)),
                ('code', fields.ForeignKeyField('scrm.GroupCode', source_field='code_id', null=True, db_constraint=True, to_field='id', related_name='joins', on_delete=OnDelete.SET_NULL)),
                ('store_id', fields.IntField(null=True)),
                ('owner_userid', fields.CharField(default='', max_length=64)),
                ('state', fields.CharField(default='', max_length=30)),
                ('join_scene', fields.SmallIntField(default=0)),
                ('joined_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'group_join', 'app': 'scrm', 'unique_together': (('chat_id', 'external_userid'),), 'indexes': [Index(fields=['store_id', 'joined_at'])], 'pk_attr': 'id', 'table_description': 'A customer who joined a group, attributed to the code (and its store) they came through.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='GroupPush',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('playbook', fields.CharField(max_length=48)),
                ('step', fields.CharField(max_length=48)),
                ('occurrence', fields.CharField(max_length=96)),
                ('owner_userid', fields.CharField(max_length=64)),
                ('mode', fields.CharField(max_length=8)),
                ('chat_ids', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('text', fields.TextField(default='', unique=False)),
                ('msgid', fields.CharField(default='', max_length=64)),
                ('due_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('sent_chats', fields.IntField(default=0)),
                ('sent_chat_ids', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('synced_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'group_push', 'app': 'scrm', 'unique_together': (('playbook', 'step', 'occurrence', 'owner_userid'),), 'indexes': [Index(fields=['sent_at', 'created_at'])], 'pk_attr': 'id', 'table_description': "One group step for one owner's groups: a group mass send (``msgid``) or a task in the sidebar."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='GroupWelcome',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=48)),
                ('template_id', fields.CharField(max_length=64)),
                ('digest', fields.CharField(max_length=64)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'group_welcome', 'app': 'scrm', 'pk_attr': 'id', 'table_description': "A group welcome of config/groups.yaml as made in WeCom's library (``group_welcome_template``)."},
            bases=['Model'],
        ),
    ]
