from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('scrm', '0014_predict_choice')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SopOccurrence',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('playbook', fields.CharField(max_length=64)),
                ('step', fields.CharField(max_length=64)),
                ('action', fields.CharField(max_length=16)),
                ('occurrence', fields.CharField(max_length=96)),
                ('detail', fields.CharField(default='', max_length=64)),
                ('due_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('prepared_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('moment', fields.ForeignKeyField('scrm.Moment', source_field='moment_id', null=True, db_constraint=True, to_field='id', related_name='sop_occurrences', on_delete=OnDelete.SET_NULL)),
                ('error', fields.CharField(default='', max_length=256)),
            ],
            options={'table': 'sop_occurrence', 'app': 'scrm', 'unique_together': (('playbook', 'step', 'occurrence'),), 'indexes': [Index(fields=['prepared_at', 'due_at'])], 'pk_attr': 'id', 'table_description': 'One due occurrence of a step that is not a task per customer (``StepKind.per_customer`` False): e.g. the'},
            bases=['Model'],
        ),
    ]
