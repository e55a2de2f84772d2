from tortoise import migrations
from tortoise.migrations import operations as ops
from acquisition.models import TaskStatus
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('scrm', '0010_predict')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AcquisitionLink',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('scope', fields.CharField(max_length=8)),
                ('key', fields.CharField(max_length=64)),
                ('link_id', fields.CharField(null=True, unique=True, max_length=64)),
                ('name', fields.CharField(default='', max_length=64)),
                ('url', fields.CharField(default='', max_length=512)),
                ('users', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('deleted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'acq_link', 'app': 'scrm', 'unique_together': (('scope', 'key'),), 'pk_attr': 'id', 'table_description': 'One ``customer_acquisition/create_link``: for a store, a guide, or an import batch.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Member',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member_id', fields.CharField(unique=True, max_length=64)),
                ('phone', fields.CharField(db_index=True, max_length=16)),
                ('name', fields.CharField(default='', max_length=64)),
                ('store', fields.ForeignKeyField('scrm.Store', source_field='store_id', db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.CASCADE)),
                ('unionid', fields.CharField(null=True, db_index=True, max_length=64)),
                ('wanted_guide', fields.CharField(default='', max_length=64)),
                ('batch', fields.CharField(default='', max_length=64)),
                ('digest', fields.CharField(default='', max_length=16)),
                ('guide', fields.ForeignKeyField('scrm.Guide', source_field='guide_id', null=True, db_constraint=True, to_field='id', related_name='member_tasks', on_delete=OnDelete.SET_NULL)),
                ('task_status', fields.CharEnumField(default=TaskStatus.NONE, description='NONE: none\nOPEN: open\nDONE: done\nPARKED: parked', enum_type=TaskStatus, max_length=8)),
                ('assigned_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('recycled', fields.SmallIntField(default=0)),
                ('past_guides', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('parked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('customer', fields.ForeignKeyField('scrm.Customer', source_field='customer_id', null=True, db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.SET_NULL)),
                ('added_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('added_by', fields.CharField(default='', max_length=64)),
                ('came_by', fields.CharField(default='', max_length=8)),
                ('matched_by', fields.CharField(default='', max_length=8)),
                ('imported_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'acq_member', 'app': 'scrm', 'indexes': [Index(fields=['store_id', 'guide_id']), Index(fields=['task_status', 'assigned_at']), Index(fields=['guide_id', 'task_status']), Index(fields=['customer_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
