from tortoise import migrations
from tortoise.migrations import operations as ops
from campaigns.models import Arm, TargetStatus, TaskState
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('scrm', '0011_acquisition')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Campaign',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=64)),
                ('source', fields.CharField(default='cli', max_length=16)),
                ('text', fields.TextField(default='', unique=False)),
                ('attachments', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('audience', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('holdout_pct', fields.FloatField(default=10.0)),
                ('window_days', fields.IntField(default=14)),
                ('playbook', fields.CharField(default='', max_length=64)),
                ('step', fields.CharField(default='', max_length=64)),
                ('created_by', fields.CharField(default='', max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('cancelled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'campaign', 'app': 'scrm', 'indexes': [Index(fields=['playbook', 'step'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CampaignTarget',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('campaign', fields.ForeignKeyField('scrm.Campaign', source_field='campaign_id', db_constraint=False, to_field='id', related_name='targets', on_delete=OnDelete.CASCADE)),
                ('customer', fields.ForeignKeyField('scrm.Customer', source_field='customer_id', db_constraint=False, to_field='id', related_name='campaign_targets', on_delete=OnDelete.CASCADE)),
                ('guide', fields.ForeignKeyField('scrm.Guide', source_field='guide_id', null=True, db_constraint=False, to_field='id', related_name='campaign_targets', on_delete=OnDelete.SET_NULL)),
                ('arm', fields.CharEnumField(description='TREATED: treated\nHOLDOUT: holdout\nCAPPED: capped', enum_type=Arm, max_length=8)),
                ('status', fields.CharEnumField(default=TargetStatus.PLANNED, description='PLANNED: planned\nSENT: sent\nUNSENT: unsent\nNOT_FRIEND: not_friend\nOVER_LIMIT: over_limit', enum_type=TargetStatus, max_length=12)),
                ('msgid', fields.CharField(default='', max_length=64)),
                ('counted_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('send_time', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'campaign_target', 'app': 'scrm', 'unique_together': (('campaign', 'customer'),), 'indexes': [Index(fields=['campaign_id', 'msgid'])], 'pk_attr': 'id', 'table_description': 'One customer of a campaign: the arm they are in, the guide who pushes, and what WeCom said.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CampaignTask',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('campaign', fields.ForeignKeyField('scrm.Campaign', source_field='campaign_id', db_constraint=True, to_field='id', related_name='tasks', on_delete=OnDelete.CASCADE)),
                ('sender', fields.CharField(max_length=64)),
                ('chunk', fields.IntField(default=0)),
                ('msgid', fields.CharField(default='', db_index=True, max_length=64)),
                ('fail_list', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('customers', fields.IntField(default=0)),
                ('state', fields.CharEnumField(default=TaskState.OPEN, description='OPEN: open\nSENT: sent\nCANCELLED: cancelled\nEXPIRED: expired', enum_type=TaskState, max_length=12)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('send_time', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('synced_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('reminders', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
            ],
            options={'table': 'campaign_task', 'app': 'scrm', 'unique_together': (('campaign', 'sender', 'chunk'),), 'indexes': [Index(fields=['state'])], 'pk_attr': 'id', 'table_description': "One ``add_msg_template``: a guide's share of a campaign (≤ 10,000 customers), its msgid and fail_list."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='GuideBehaviour',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('guide', fields.ForeignKeyField('scrm.Guide', source_field='guide_id', db_constraint=True, to_field='id', related_name='behaviour', on_delete=OnDelete.CASCADE)),
                ('day', fields.DateField()),
                ('new_apply_cnt', fields.IntField(default=0)),
                ('new_contact_cnt', fields.IntField(default=0)),
                ('chat_cnt', fields.IntField(default=0)),
                ('message_cnt', fields.IntField(default=0)),
                ('reply_percentage', fields.FloatField(null=True)),
                ('avg_reply_time', fields.FloatField(null=True)),
                ('negative_feedback_cnt', fields.IntField(default=0)),
            ],
            options={'table': 'guide_behaviour', 'app': 'scrm', 'unique_together': (('guide', 'day'),), 'pk_attr': 'id', 'table_description': "One guide's day as get_user_behavior_data reports it."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Moment',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=64)),
                ('text', fields.TextField(default='', unique=False)),
                ('attachments', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('tags', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('senders', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('jobid', fields.CharField(default='', max_length=128)),
                ('moment_id', fields.CharField(default='', max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('synced_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'moment', 'app': 'scrm', 'pk_attr': 'id', 'table_description': "A moment (朋友圈) task: add_moment_task's jobid, then the moment_id WeCom made of it."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MomentGuide',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('moment', fields.ForeignKeyField('scrm.Moment', source_field='moment_id', db_constraint=True, to_field='id', related_name='guides', on_delete=OnDelete.CASCADE)),
                ('userid', fields.CharField(max_length=64)),
                ('published', fields.BooleanField(default=False)),
                ('customers', fields.IntField(default=0)),
                ('likes', fields.IntField(default=0)),
                ('comments', fields.IntField(default=0)),
            ],
            options={'table': 'moment_guide', 'app': 'scrm', 'unique_together': (('moment', 'userid'),), 'pk_attr': 'id', 'table_description': 'One guide asked to publish a moment, as the last sync found it.'},
            bases=['Model'],
        ),
    ]
