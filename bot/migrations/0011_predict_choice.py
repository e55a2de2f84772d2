from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('scrm', '0010_predict')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='CustomerPrediction',
            name='method',
            field=fields.CharField(max_length=16),
        ),
        ops.AlterField(
            model_name='PredictionRun',
            name='method',
            field=fields.CharField(max_length=16),
        ),
    ]
