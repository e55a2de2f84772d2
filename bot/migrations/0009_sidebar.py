from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('scrm', '0008_org_channels')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ScriptSend',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('script_id', fields.CharField(max_length=64)),
                ('guide_userid', fields.CharField(max_length=64)),
                ('customer', fields.ForeignKeyField('scrm.Customer', source_field='customer_id', null=True, db_constraint=True, to_field='id', related_name='script_sends', on_delete=OnDelete.SET_NULL)),
                ('chat_id', fields.CharField(default='', max_length=64)),
                ('status', fields.CharField(default='prepared', max_length=12)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'sidebar_script_send', 'app': 'scrm', 'indexes': [Index(fields=['script_id', 'created_at']), Index(fields=['customer_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'A library item or suggested text put into a chat: prepared, then sent or cancelled.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SidebarAudit',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('userid', fields.CharField(max_length=64)),
                ('action', fields.CharField(max_length=32)),
                ('external_userid', fields.CharField(default='', max_length=64)),
                ('target', fields.CharField(default='', max_length=96)),
                ('result', fields.CharField(default='ok', max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'sidebar_audit', 'app': 'scrm', 'indexes': [Index(fields=['userid', 'created_at'])], 'pk_attr': 'id', 'table_description': 'One row per write made from the sidebar: who, what, on whom, with what result.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SidebarNote',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('customer', fields.ForeignKeyField('scrm.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='notes', on_delete=OnDelete.CASCADE)),
                ('guide', fields.ForeignKeyField('scrm.Guide', source_field='guide_id', db_constraint=True, to_field='id', related_name='notes', on_delete=OnDelete.CASCADE)),
                ('text', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'sidebar_note', 'app': 'scrm', 'indexes': [Index(fields=['customer_id', 'created_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
