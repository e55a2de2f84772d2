from tortoise import migrations
from tortoise.migrations import operations as ops
from sop.models import TaskStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('scrm', '0004_operators')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SopPlaybookState',
            fields=[
                ('playbook', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('paused', fields.BooleanField(default=False)),
                ('changed_by', fields.CharField(default='', max_length=64)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'sop_playbook_state', 'app': 'scrm', 'pk_attr': 'playbook', 'table_description': 'A playbook paused by an operator (``SOP 暂停 <名称>``). No row means running.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SopTask',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('playbook', fields.CharField(max_length=64)),
                ('step', fields.CharField(max_length=64)),
                ('customer', fields.ForeignKeyField('scrm.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='sop_tasks', on_delete=OnDelete.CASCADE)),
                ('guide', fields.ForeignKeyField('scrm.Guide', source_field='guide_id', db_constraint=True, to_field='id', related_name='sop_tasks', on_delete=OnDelete.CASCADE)),
                ('occurrence', fields.CharField(max_length=96)),
                ('due_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('status', fields.CharEnumField(default=TaskStatus.OPEN, description='OPEN: open\nDONE: done\nCONTROL: control', enum_type=TaskStatus, max_length=8)),
                ('action', fields.CharField(default='message', max_length=16)),
                ('goal', fields.CharField(default='', max_length=16)),
                ('reason', fields.CharField(default='', max_length=128)),
                ('detail', fields.CharField(default='', max_length=64)),
                ('value', fields.FloatField(default=0)),
                ('suggested_text', fields.TextField(default='', unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('done_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('done_by', fields.CharField(default='', max_length=8)),
                ('prepared_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('reminded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('escalated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'sop_task', 'app': 'scrm', 'unique_together': (('playbook', 'step', 'customer', 'occurrence'),), 'indexes': [Index(fields=['guide_id', 'status', 'due_at']), Index(fields=['status', 'due_at']), Index(fields=['customer_id', 'status'])], 'pk_attr': 'id', 'table_description': "A dated to-do for a guide, or (status control) a holdout customer's exposure."},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='CustomerTag',
            index=Index(fields=['created_at']),
        ),
        ops.AddIndex(
            model_name='Relationship',
            index=Index(fields=['created_at']),
        ),
    ]
