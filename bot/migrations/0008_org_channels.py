from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('scrm', '0007_hostile_intake')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ContactWay',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('channel', fields.OneToOneField('scrm.ChannelCode', source_field='channel_id', db_constraint=True, to_field='id', related_name='contact_way', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=8)),
                ('config_id', fields.CharField(null=True, unique=True, max_length=64)),
                ('qr_code', fields.CharField(default='', max_length=512)),
                ('type', fields.SmallIntField(default=2)),
                ('users', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('parties', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('targets', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('remark', fields.CharField(default='', max_length=30)),
                ('skip_verify', fields.BooleanField(default=True)),
                ('owner_userid', fields.CharField(null=True, unique=True, max_length=64)),
                ('created_by', fields.CharField(default='', max_length=64)),
                ('media_id', fields.CharField(default='', max_length=128)),
                ('media_uploaded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('deleted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'contact_way', 'app': 'scrm', 'pk_attr': 'id', 'table_description': "One ``add_contact_way`` made for a channel (``kind``: config, chat, or a guide's personal code)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OrgDepartment',
            fields=[
                ('id', fields.IntField(generated=False, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(default='', max_length=64)),
                ('parent_id', fields.IntField(default=0)),
                ('order', fields.BigIntField(default=0)),
                ('leaders', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('store', fields.ForeignKeyField('scrm.Store', source_field='store_id', null=True, db_constraint=True, to_field='id', related_name='departments', on_delete=OnDelete.SET_NULL)),
                ('deleted', fields.BooleanField(default=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'org_department', 'app': 'scrm', 'pk_attr': 'id', 'table_description': "A WeCom department (its id is WeCom's), with the store it is, if it is one."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OrgMember',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('guide', fields.OneToOneField('scrm.Guide', source_field='guide_id', db_constraint=True, to_field='id', related_name='org_member', on_delete=OnDelete.CASCADE)),
                ('departments', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('main_department', fields.IntField(default=0)),
                ('leads', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('status', fields.SmallIntField(default=1)),
                ('manager_from_leader', fields.BooleanField(default=False)),
                ('deleted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('synced_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'org_member', 'app': 'scrm', 'pk_attr': 'id', 'table_description': 'A member as the address book last described them (the guide row holds store, role, active).'},
            bases=['Model'],
        ),
    ]
