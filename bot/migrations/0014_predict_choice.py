# expand-contract: method widened from 8 to 16 characters; the previous release writes at most 8 and reads any
from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('scrm', '0013_groups')]

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
