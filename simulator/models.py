"""The records the fake WeCom keeps, as plain dataclasses (what WeCom itself would store)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MEMBER_ACTIVE",
    "MEMBER_RESIGNED",
    "AccessToken",
    "ApiCall",
    "ChatMember",
    "ContactWay",
    "CorpTag",
    "CustomerTransfer",
    "DeliveredMessage",
    "Department",
    "ExternalContact",
    "FollowRelation",
    "GroupChat",
    "GroupWelcomeSent",
    "GroupWelcomeTemplate",
    "JoinWay",
    "Member",
    "MsgTemplate",
    "RobotMessage",
    "TagGroup",
    "TemplateCardIssue",
    "UploadedMedia",
    "WelcomeCode",
    "WelcomeMessage",
]

# user/get `status`: 1 activated, 2 disabled, 4 not activated, 5 left the company.
MEMBER_ACTIVE = 1
MEMBER_RESIGNED = 5


@dataclass
class Member:
    """A corp member (a guide, an operator): someone the app can message."""

    userid: str
    name: str
    department: list[int] = field(default_factory=lambda: [1])
    store: str = ""
    position: str = ""
    status: int = MEMBER_ACTIVE
    customer_contact: bool = True  # has the customer-contact permission (get_follow_user_list)


@dataclass
class ExternalContact:
    """A customer (外部联系人) as WeCom knows them, independent of which members follow them."""

    external_userid: str
    name: str
    type: int = 1  # 1 WeChat user, 2 WeCom user
    gender: int = 0  # 0 unknown, 1 male, 2 female
    avatar: str = ""
    unionid: str = ""
    corp_name: str = ""


@dataclass
class FollowRelation:
    """One (member, customer) relation; its ``tag_ids`` are the customer's tags as WeCom sees them."""

    userid: str
    external_userid: str
    createtime: int
    remark: str = ""
    description: str = ""
    state: str = ""
    add_way: int = 1  # 1 scanned a QR code (contact way)
    oper_userid: str = ""
    tag_ids: set[str] = field(default_factory=set)
    remark_mobiles: list[str] = field(default_factory=list)  # phones the member noted (added by phone search)


@dataclass
class CorpTag:
    id: str
    name: str
    group_id: str
    create_time: int
    order: int = 0
    deleted: bool = False


@dataclass
class TagGroup:
    group_id: str
    group_name: str
    create_time: int
    order: int = 0
    deleted: bool = False
    tags: dict[str, CorpTag] = field(default_factory=dict)  # insertion-ordered by tag id


@dataclass
class ChatMember:
    userid: str  # a member userid or an external_userid
    type: int  # 1 member, 2 external contact
    join_time: int
    join_scene: int = 1  # 1 invited directly, 2 by link, 3 by QR code
    invitor: str = ""
    state: str = ""  # the join way's state, when the member came in through one (groupchat/get)


@dataclass
class GroupChat:
    chat_id: str
    name: str
    owner: str
    create_time: int
    notice: str = ""
    status: int = 0  # 0 normal; 1-3 are the ownership-transfer states
    members: dict[str, ChatMember] = field(default_factory=dict)
    admin_list: list[str] = field(default_factory=list)
    version: int = 1  # member_version changes whenever the member list does


@dataclass
class DeliveredMessage:
    """One ``message/send`` as received by one member (a send to "a|b" gives two of these)."""

    msgid: str
    touser: str
    msgtype: str
    content: dict[str, Any]  # the body under the msgtype key (text, markdown, template_card…)
    agentid: int
    sent_at: float
    response_code: str = ""
    updates: list[dict[str, Any]] = field(default_factory=list)  # update_template_card bodies


@dataclass
class TemplateCardIssue:
    """A ``response_code`` handed out for an interactive card: single use, 72 h."""

    response_code: str
    msgid: str
    task_id: str
    card_type: str
    recipients: list[str]
    issued_at: float
    used_at: float | None = None


@dataclass
class WelcomeCode:
    code: str
    userid: str
    external_userid: str
    issued_at: float
    used_at: float | None = None


@dataclass
class WelcomeMessage:
    welcome_code: str
    userid: str
    external_userid: str
    text: str
    attachments: list[dict[str, Any]]
    sent_at: float


@dataclass
class MsgTemplate:
    msgid: str
    chat_type: str
    sender: str
    external_userids: list[str]
    text: str
    attachments: list[dict[str, Any]]
    created_at: float
    fail_list: list[str] = field(default_factory=list)
    chat_ids: list[str] = field(default_factory=list)  # chat_type group: the groups it goes to
    # The sender confirmed in the client (send_time), and per group whether it went out.
    sent_at: float | None = None


@dataclass
class ContactWay:
    config_id: str
    type: int
    scene: int
    users: list[str]
    state: str
    skip_verify: bool
    qr_code: str
    remark: str = ""
    parties: list[int] = field(default_factory=list)
    scans: int = 0


@dataclass
class JoinWay:
    """A group join way (加入群聊, ``groupchat/add_join_way``): a QR code over ≤ 5 groups."""

    config_id: str
    scene: int
    chat_id_list: list[str]
    state: str = ""
    remark: str = ""
    auto_create_room: int = 1
    room_base_name: str = ""
    room_base_id: int = 1
    qr_code: str = ""
    scans: int = 0


@dataclass
class GroupWelcomeTemplate:
    """An entry of the group welcome library (``group_welcome_template``, ≤ 100 a corp)."""

    template_id: str
    text: str
    attachment: dict[str, Any]  # {"image": {...}} / {"link": {...}} / {"miniprogram": {...}} or empty
    created_at: float


@dataclass
class GroupWelcomeSent:
    """WeCom posting a group's chosen welcome template when a customer joins."""

    chat_id: str
    external_userid: str
    template_id: str
    text: str
    sent_at: float


@dataclass
class CustomerTransfer:
    """A hand-over of one customer; resolved by ``SimulatorState.settle_transfers``."""

    handover_userid: str
    takeover_userid: str
    external_userid: str
    requested_at: float
    resigned: bool
    status: int = 2  # 1 taken over, 2 waiting, 3 refused by the customer, 4 taker's limit reached
    takeover_time: int = 0
    transfer_success_msg: str = ""


@dataclass
class RobotMessage:
    key: str
    msgtype: str
    payload: dict[str, Any]
    sent_at: float


@dataclass
class AccessToken:
    token: str
    issued_at: float
    expires_at: float


@dataclass
class ApiCall:
    """One request as the simulator saw it (tokens are never recorded)."""

    api: str
    method: str
    query: dict[str, str]
    body: dict[str, Any] | None
    at: float
    errcode: int | None = None  # None when the answer was an injected HTTP error
    http_status: int = 200


@dataclass
class Department:
    """An address-book department (``department/list``); 1 is the corp's root."""

    id: int
    name: str
    parentid: int = 0
    order: int = 0
    department_leader: list[str] = field(default_factory=list)


@dataclass
class UploadedMedia:
    """A temporary material (``media/upload``): usable for 3 days."""

    media_id: str
    type: str
    filename: str
    content: bytes
    created_at: float
