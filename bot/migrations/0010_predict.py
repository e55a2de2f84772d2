from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('scrm', '0009_sidebar')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CustomerPrediction',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('customer', fields.OneToOneField('scrm.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='prediction', on_delete=OnDelete.CASCADE)),
                ('p_buy_30', fields.FloatField()),
                ('p_buy_90', fields.FloatField()),
                ('purchases_90', fields.FloatField()),
                ('spend_90', fields.FloatField()),
                ('p_alive', fields.FloatField()),
                ('p_alive_peak', fields.FloatField(null=True)),
                ('next_purchase_on', fields.DateField(null=True)),
                ('rank_pct', fields.FloatField()),
                ('method', fields.CharField(max_length=8)),
                ('why', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('computed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'customer_prediction', 'app': 'scrm', 'indexes': [Index(fields=['rank_pct'])], 'pk_attr': 'id', 'table_description': 'What the nightly run expects of a customer who has bought before.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PredictionRun',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('computed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('method', fields.CharField(max_length=8)),
                ('customers', fields.IntField()),
                ('backtest', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('seconds', fields.FloatField(default=0)),
                ('mean_spend_90', fields.FloatField(default=0)),
            ],
            options={'table': 'prediction_run', 'app': 'scrm', 'pk_attr': 'id', 'table_description': 'A nightly run: its back-test figures and which method it chose.'},
            bases=['Model'],
        ),
    ]
