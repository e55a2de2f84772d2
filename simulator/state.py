"""The fake corp: everything the simulated WeCom knows, with seeding helpers and realistic events.

The API handlers (``simulator/apis``) read and change this state; tests and the control
endpoints seed it, move its clock, and ask it for the inner XML of events it would call back with.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Any

from simulator import eventxml
from simulator.browser import BrowserState
from simulator.clock import SimClock
from simulator.faults import FaultInjector, RateLimiter, SlidingWindow
from simulator.ids import IdFactory
from simulator.models import (
    MEMBER_ACTIVE,
    MEMBER_RESIGNED,
    AccessToken,
    ApiCall,
    ChatMember,
    ContactWay,
    CorpTag,
    CustomerTransfer,
    DeliveredMessage,
    Department,
    ExternalContact,
    FollowRelation,
    GroupChat,
    GroupWelcomeSent,
    GroupWelcomeTemplate,
    JoinWay,
    Member,
    MsgTemplate,
    RobotMessage,
    TagGroup,
    TemplateCardIssue,
    UploadedMedia,
    WelcomeCode,
    WelcomeMessage,
)
from simulator.reach import ReachState
from simulator.snapshot import state_snapshot

__all__ = [
    "CARD_RESPONSE_TTL",
    "DEFAULT_AGENT_ID",
    "DEFAULT_CORP_ID",
    "DEFAULT_ENCODING_AES_KEY",
    "DEFAULT_SECRET",
    "DEFAULT_TOKEN",
    "ROBOT_MESSAGES_PER_MINUTE",
    "TRANSFER_WAIT",
    "WELCOME_CODE_TTL",
    "SimulatorState",
]

# Tencent's published sample credentials: fine for a simulator, never for a real corp.
DEFAULT_CORP_ID = "ww1436e0e65a779aee"
DEFAULT_TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"  # noqa: S105 - public sample, see above
DEFAULT_ENCODING_AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
DEFAULT_SECRET = "sim-app-secret"  # noqa: S105 - the simulator's own made-up app secret
DEFAULT_AGENT_ID = 1000002

WELCOME_CODE_TTL = 20.0
CARD_RESPONSE_TTL = 72 * 3600.0
TRANSFER_WAIT = 24 * 3600.0  # a customer not refusing is taken over after 24 h
ROBOT_MESSAGES_PER_MINUTE = 20

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
_STORE_STATES = ("store_sh01", "store_sh02", "store_bj01", "store_gz01", "live_0618", "ad_douyin")


class SimulatorState:
    """One corp with one self-built app, as WeCom holds it. Not thread-safe; one event loop."""

    def __init__(
        self,
        *,
        corp_id: str = DEFAULT_CORP_ID,
        secret: str = DEFAULT_SECRET,
        agent_id: int = DEFAULT_AGENT_ID,
        callback_token: str = DEFAULT_TOKEN,
        encoding_aes_key: str = DEFAULT_ENCODING_AES_KEY,
        token_ttl: int = 7200,
        seed: int = 0,
        clock: SimClock | None = None,
    ) -> None:
        self.corp_id = corp_id
        self.secret = secret
        self.agent_id = agent_id
        self.callback_token = callback_token
        self.encoding_aes_key = encoding_aes_key
        self.token_ttl = token_ttl
        self.clock = clock or SimClock()
        self.ids = IdFactory(seed)
        self.faults = FaultInjector(seed)
        self.rate_limits = RateLimiter(self.clock.now)

        self.members: dict[str, Member] = {}
        self.contacts: dict[str, ExternalContact] = {}
        # userid -> external_userid -> relation; insertion order is the order WeCom lists them in.
        self.relations: dict[str, dict[str, FollowRelation]] = {}
        self.tag_groups: dict[str, TagGroup] = {}
        self.tags: dict[str, CorpTag] = {}
        self.group_chats: dict[str, GroupChat] = {}
        self.messages: dict[str, list[DeliveredMessage]] = {}
        self.cards: dict[str, TemplateCardIssue] = {}  # by response_code
        self.card_task_ids: set[str] = set()
        self.recent_sends: dict[str, tuple[str, float]] = {}  # duplicate check: fingerprint -> (msgid, at)
        self.welcome_codes: dict[str, WelcomeCode] = {}
        self.welcome_messages: list[WelcomeMessage] = []
        self.msg_templates: list[MsgTemplate] = []
        self.contact_ways: dict[str, ContactWay] = {}
        # Customer groups (simulator/apis/groupways.py, simulator/groupjoins.py): join ways, the group
        # welcome library, the template each group's owner picked in the client, and what WeCom posted.
        self.join_ways: dict[str, JoinWay] = {}
        self.group_welcome_templates: dict[str, GroupWelcomeTemplate] = {}
        self.group_welcome_choice: dict[str, str] = {}  # chat_id -> template_id
        self.group_welcomes_sent: list[GroupWelcomeSent] = []
        self.group_messages: dict[str, list[tuple[str, int]]] = {}  # chat_id -> [(sender, time)] (statistics)
        self.transfers: list[CustomerTransfer] = []
        self.transfer_refusals: dict[str, str] = {}  # external_userid -> FailReason
        self.robot_messages: dict[str, list[RobotMessage]] = {}
        self.robot_windows: dict[str, SlidingWindow] = {}
        self.tokens: dict[str, AccessToken] = {}
        self.calls: list[ApiCall] = []
        # Events that state changes made while answering APIs (e.g. a transfer resolved during
        # transfer_result) and that WeCom would call back with; the control API delivers them.
        self.outbox: list[str] = []
        # The address book (simulator/addressbook.py); uploaded materials (apis/sidebar_media.py).
        self.departments: dict[int, Department] = {1: Department(1, "总部")}
        self.media: dict[str, UploadedMedia] = {}
        self.base_url = ""  # where this simulator is served (QR code images are fetched from it)

        # The in-app browser: OAuth codes, JS-SDK tickets, temporary media, the chat device.
        self.browser = BrowserState()
        # Pushes guides confirm: mass-send tasks and results, moments, behaviour data (simulator/reach.py).
        self.reach = ReachState()

    # --- clock -------------------------------------------------------------------------------

    def now(self) -> float:
        return self.clock.now()

    def advance(self, seconds: float) -> None:
        """Move the simulator clock forward (tokens, welcome codes, card codes, transfers expire)."""
        self.clock.advance(seconds)

    # --- tokens ------------------------------------------------------------------------------

    def issue_token(self) -> AccessToken:
        """A fresh token; earlier tokens stay valid until they expire, as in WeCom."""
        now = self.now()
        token = AccessToken(self.ids.make("", 64), issued_at=now, expires_at=now + self.token_ttl)
        self.tokens[token.token] = token
        return token

    def expire_all_tokens(self) -> None:
        now = self.now()
        for token in self.tokens.values():
            token.expires_at = min(token.expires_at, now)

    # --- seeding -----------------------------------------------------------------------------

    def add_member(
        self,
        userid: str,
        name: str | None = None,
        *,
        department: Sequence[int] = (1,),
        store: str = "",
        position: str = "导购",
        status: int = MEMBER_ACTIVE,
    ) -> Member:
        member = Member(userid, name or userid, list(department), store, position, status)
        self.members[userid] = member
        self.relations.setdefault(userid, {})
        return member

    def resign_member(self, userid: str) -> None:
        """The member left the company: their customers can go through ``resigned/transfer_customer``."""
        self.members[userid].status = MEMBER_RESIGNED

    def add_external_contact(
        self,
        external_userid: str | None = None,
        name: str | None = None,
        *,
        type: int = 1,  # WeCom's field name
        gender: int = 0,
        avatar: str = "",
        unionid: str = "",
        corp_name: str = "",
    ) -> ExternalContact:
        external_userid = external_userid or self.ids.make("wm", 28)
        contact = ExternalContact(
            external_userid,
            name or f"客户{external_userid[-4:]}",
            type,
            gender,
            avatar or f"https://wework.qpic.cn/sim/{external_userid}/0",
            unionid,
            corp_name,
        )
        self.contacts[external_userid] = contact
        return contact

    def relate(
        self,
        userid: str,
        external_userid: str,
        *,
        state: str = "",
        tag_ids: Iterable[str] = (),
        remark: str = "",
        description: str = "",
        add_way: int = 1,
        createtime: int | None = None,
    ) -> FollowRelation:
        """Make ``external_userid`` a customer of member ``userid`` (both must exist)."""
        self._require_member(userid)
        if external_userid not in self.contacts:
            raise KeyError(f"no external contact {external_userid!r}")
        unknown = set(tag_ids) - self.tags.keys()
        if unknown:
            raise KeyError(f"unknown tag ids {sorted(unknown)}")
        relation = FollowRelation(
            userid,
            external_userid,
            createtime if createtime is not None else self.clock.now_int(),
            remark=remark,
            description=description,
            state=state,
            add_way=add_way,
            oper_userid=external_userid if add_way == 1 else userid,
            tag_ids=set(tag_ids),
        )
        self.relations.setdefault(userid, {})[external_userid] = relation
        return relation

    def add_tag_group(
        self, group_name: str, tag_names: Sequence[str] = (), *, order: int = 0, group_id: str | None = None
    ) -> TagGroup:
        group = TagGroup(group_id or self.ids.make("et", 20), group_name, self.clock.now_int(), order)
        self.tag_groups[group.group_id] = group
        for tag_name in tag_names:
            self.add_tag(group.group_id, tag_name)
        return group

    def add_tag(self, group_id: str, name: str, *, order: int = 0, tag_id: str | None = None) -> CorpTag:
        tag = CorpTag(tag_id or self.ids.make("et", 20), name, group_id, self.clock.now_int(), order)
        self.tag_groups[group_id].tags[tag.id] = tag
        self.tags[tag.id] = tag
        return tag

    def add_group_chat(
        self,
        owner: str,
        name: str = "",
        *,
        member_userids: Sequence[str] = (),
        external_userids: Sequence[str] = (),
        chat_id: str | None = None,
    ) -> GroupChat:
        now = self.clock.now_int()
        chat = GroupChat(chat_id or self.ids.make("wr", 28), name, owner, now, admin_list=[])
        for userid in (owner, *member_userids):
            chat.members[userid] = ChatMember(userid, 1, now, invitor=owner)
        for external_userid in external_userids:
            chat.members[external_userid] = ChatMember(external_userid, 2, now, join_scene=3, invitor=owner)
        self.group_chats[chat.chat_id] = chat
        return chat

    def generate_contacts(
        self, n_members: int, n_contacts: int, seed: int = 0, *, tagged_fraction: float = 0.0
    ) -> tuple[list[Member], list[ExternalContact]]:
        """Seed ``n_members`` guides and ``n_contacts`` customers, each customer followed by one guide.

        Fast enough for 100k contacts (no per-contact lookups beyond dict inserts). With
        ``tagged_fraction`` > 0 a "来源" tag group is created and that share of relations tagged.
        """
        rng = random.Random(seed)
        start = len(self.members)
        members = [
            self.add_member(f"guide_{start + i + 1:04d}", self._random_name(rng), store=f"store_{(i % 5) + 1:02d}")
            for i in range(n_members)
        ]
        source_tags: list[str] = []
        if tagged_fraction > 0:
            group = self.add_tag_group("来源", ["门店扫码", "直播", "广告"])
            source_tags = list(group.tags)
        contacts: list[ExternalContact] = []
        now = self.clock.now_int()
        for i in range(n_contacts):
            contact = self.add_external_contact(name=self._random_name(rng), gender=rng.randrange(3))
            contacts.append(contact)
            member = members[i % n_members] if n_members else None
            if member is None:
                continue
            tag_ids = [rng.choice(source_tags)] if source_tags and rng.random() < tagged_fraction else []
            self.relate(
                member.userid,
                contact.external_userid,
                state=rng.choice(_STORE_STATES),
                tag_ids=tag_ids,
                createtime=now - rng.randrange(0, 90 * 86400),
            )
        return members, contacts

    @staticmethod
    def _random_name(rng: random.Random) -> str:
        return rng.choice(_SURNAMES) + "".join(rng.choices(_GIVEN, k=rng.randrange(1, 3)))

    # --- queries -----------------------------------------------------------------------------

    def relation(self, userid: str, external_userid: str) -> FollowRelation | None:
        return self.relations.get(userid, {}).get(external_userid)

    def relations_of_contact(self, external_userid: str) -> list[FollowRelation]:
        return [rel[external_userid] for rel in self.relations.values() if external_userid in rel]

    def tag_ids_of(self, userid: str, external_userid: str) -> set[str]:
        """The customer's tags on this relation, as WeCom sees them (empty if no relation)."""
        relation = self.relation(userid, external_userid)
        return set(relation.tag_ids) if relation else set()

    def tag_id(self, tag_name: str, group_name: str | None = None) -> str:
        """The id of a live tag by name (and group name, when names repeat across groups)."""
        for tag in self.tags.values():
            group = self.tag_groups[tag.group_id]
            if tag.name == tag_name and not tag.deleted and group_name in (None, group.group_name):
                return tag.id
        raise KeyError(f"no tag {tag_name!r}")

    def messages_to(self, userid: str) -> list[DeliveredMessage]:
        return list(self.messages.get(userid, []))

    def calls_to(self, api: str, *, errcode: int | None = None) -> list[ApiCall]:
        """Recorded calls to ``api`` (e.g. ``externalcontact/mark_tag``), optionally by errcode."""
        return [call for call in self.calls if call.api == api and (errcode is None or call.errcode == errcode)]

    def count_calls(self, api: str, *, errcode: int | None = None) -> int:
        return len(self.calls_to(api, errcode=errcode))

    def clear_calls(self) -> None:
        """Forget recorded calls (long benchmarks would otherwise keep every request body)."""
        self.calls.clear()

    def drain_outbox(self) -> list[str]:
        events, self.outbox = self.outbox, []
        return events

    # --- welcome codes and cards -------------------------------------------------------------

    def mint_welcome_code(self, userid: str, external_userid: str) -> str:
        """A code valid for ``WELCOME_CODE_TTL`` seconds on the simulator clock, usable once."""
        code = WelcomeCode(self.ids.make("", 43), userid, external_userid, issued_at=self.now())
        self.welcome_codes[code.code] = code
        return code.code

    def card_for_task(self, userid: str, task_id: str) -> DeliveredMessage:
        """The interactive card with ``task_id`` last delivered to ``userid``."""
        for message in reversed(self.messages.get(userid, [])):
            if message.msgtype == "template_card" and message.content.get("task_id") == task_id:
                return message
        raise KeyError(f"no card {task_id!r} delivered to {userid!r}")

    # --- realistic events: change the state, return the inner XML WeCom would call back with ---

    def customer_scans_qr(
        self,
        userid: str,
        external_userid: str | None = None,
        *,
        state: str = "",
        name: str | None = None,
        with_welcome_code: bool = True,
    ) -> str:
        """A customer scans ``userid``'s contact-way code: contact + relation + welcome code + event."""
        self._require_member(userid)
        if external_userid is None or external_userid not in self.contacts:
            external_userid = self.add_external_contact(external_userid, name).external_userid
        existing = self.relation(userid, external_userid)
        if existing is None:
            self.relate(userid, external_userid, state=state, add_way=1)
        else:
            existing.state = state
        welcome_code = self.mint_welcome_code(userid, external_userid) if with_welcome_code else None
        return eventxml.change_external_contact(
            self.corp_id,
            self.clock.now_int(),
            "add_external_contact",
            userid,
            external_userid,
            state=state or None,
            welcome_code=welcome_code,
        )

    def customer_adds_half(self, userid: str, external_userid: str | None = None, *, state: str = "") -> str:
        """The customer added the member, who has not accepted yet: no relation, a welcome code."""
        self._require_member(userid)
        if external_userid is None or external_userid not in self.contacts:
            external_userid = self.add_external_contact(external_userid).external_userid
        welcome_code = self.mint_welcome_code(userid, external_userid)
        return eventxml.change_external_contact(
            self.corp_id,
            self.clock.now_int(),
            "add_half_external_contact",
            userid,
            external_userid,
            state=state or None,
            welcome_code=welcome_code,
        )

    def guide_edits_contact(
        self, userid: str, external_userid: str, *, remark: str | None = None, add_tag_ids: Iterable[str] = ()
    ) -> str:
        """The guide edits the remark or tags in the WeCom app (not through our API)."""
        relation = self._require_relation(userid, external_userid)
        if remark is not None:
            relation.remark = remark
        relation.tag_ids.update(add_tag_ids)
        return eventxml.change_external_contact(
            self.corp_id, self.clock.now_int(), "edit_external_contact", userid, external_userid
        )

    def guide_deletes_customer(self, userid: str, external_userid: str) -> str:
        self.relations.get(userid, {}).pop(external_userid, None)
        return eventxml.change_external_contact(
            self.corp_id, self.clock.now_int(), "del_external_contact", userid, external_userid
        )

    def customer_deletes_guide(self, userid: str, external_userid: str) -> str:
        """The churn signal (流失提醒). The simulator drops the relation, so later writes get 84061."""
        self.relations.get(userid, {}).pop(external_userid, None)
        return eventxml.change_external_contact(
            self.corp_id, self.clock.now_int(), "del_follow_user", userid, external_userid
        )

    def refuse_transfer(self, external_userid: str, reason: str = "customer_refused") -> None:
        """Make the customer's current or next transfer fail (``customer_refused`` / ``customer_limit_exceed``)."""
        if reason not in ("customer_refused", "customer_limit_exceed"):
            raise ValueError(f"unknown FailReason {reason!r}")
        self.transfer_refusals[external_userid] = reason

    def settle_transfers(self, *, force: bool = False) -> list[str]:
        """Resolve waiting transfers: refusals at once, the others after 24 h (or now, with ``force``).

        Returns the events WeCom sends for them: ``transfer_fail`` to the taker for a refusal;
        ``del_external_contact`` (Source ``DELETE_BY_TRANSFER``) to the giver and
        ``add_external_contact`` to the taker for a success.
        """
        events: list[str] = []
        now = self.now()
        for transfer in self.transfers:
            if transfer.status != 2:
                continue
            reason = self.transfer_refusals.pop(transfer.external_userid, None)
            if reason is not None:
                transfer.status = 3 if reason == "customer_refused" else 4
                events.append(self._transfer_event(transfer, "transfer_fail", transfer.takeover_userid, reason))
            elif force or now >= transfer.requested_at + TRANSFER_WAIT:
                transfer.status = 1
                transfer.takeover_time = int(min(now, transfer.requested_at + TRANSFER_WAIT))
                self._move_relation(transfer)
                events.append(self._transfer_event(transfer, "del_external_contact", transfer.handover_userid))
                events.append(self._transfer_event(transfer, "add_external_contact", transfer.takeover_userid))
        return events

    def customer_joins_chat(self, chat_id: str, external_userid: str, *, join_scene: int = 3) -> str:
        chat = self.group_chats[chat_id]
        last_version = chat.version
        chat.members[external_userid] = ChatMember(external_userid, 2, self.clock.now_int(), join_scene)
        chat.version += 1
        return self._chat_update(chat, "add_member", [external_userid], last_version, join_scene=join_scene)

    def customer_leaves_chat(self, chat_id: str, external_userid: str, *, quit_scene: int = 0) -> str:
        chat = self.group_chats[chat_id]
        last_version = chat.version
        chat.members.pop(external_userid, None)
        chat.version += 1
        return self._chat_update(chat, "del_member", [external_userid], last_version, quit_scene=quit_scene)

    def chat_created(self, chat_id: str) -> str:
        return eventxml.change_external_chat(self.corp_id, self.clock.now_int(), chat_id, "create")

    def chat_dismissed(self, chat_id: str) -> str:
        self.group_chats.pop(chat_id, None)
        return eventxml.change_external_chat(self.corp_id, self.clock.now_int(), chat_id, "dismiss")

    def admin_creates_tag(self, group_name: str, tag_name: str) -> str:
        """An admin adds a tag in the console (a group of that name is reused or created)."""
        group = next((g for g in self.tag_groups.values() if g.group_name == group_name and not g.deleted), None)
        group = group or self.add_tag_group(group_name)
        tag = self.add_tag(group.group_id, tag_name)
        return eventxml.change_external_tag(self.corp_id, self.clock.now_int(), tag.id, "tag", "create")

    def admin_deletes_tag(self, tag_id: str) -> str:
        tag = self.tags[tag_id]
        tag.deleted = True
        for by_contact in self.relations.values():
            for relation in by_contact.values():
                relation.tag_ids.discard(tag_id)
        return eventxml.change_external_tag(self.corp_id, self.clock.now_int(), tag_id, "tag", "delete")

    def guide_sends_text(self, userid: str, content: str) -> str:
        """A member types ``content`` to the app (a chat command)."""
        return eventxml.text_message(
            self.corp_id, self.clock.now_int(), userid, content, self.ids.digits(19), self.agent_id
        )

    def guide_clicks_card(
        self, userid: str, task_id: str, event_key: str, *, selected_items: dict[str, list[str]] | None = None
    ) -> str:
        """A member clicks button ``event_key`` on the card ``task_id`` we sent them."""
        card = self.card_for_task(userid, task_id)
        return eventxml.template_card_event(
            self.corp_id,
            self.clock.now_int(),
            userid,
            event_key=event_key,
            task_id=task_id,
            response_code=card.response_code,
            card_type=str(card.content.get("card_type", "")),
            agent_id=self.agent_id,
            selected_items=selected_items,
        )

    def guide_opens_app(self, userid: str) -> str:
        return eventxml.enter_agent(self.corp_id, self.clock.now_int(), userid, self.agent_id)

    # --- snapshots -----------------------------------------------------------------------------

    def snapshot(self, *, include_contacts: bool = True) -> dict[str, Any]:
        """A JSON-ready view for ``GET /_sim/state`` (out-of-process demos and benchmarks)."""
        return state_snapshot(self, include_contacts=include_contacts)

    # --- helpers -----------------------------------------------------------------------------

    def _require_member(self, userid: str) -> None:
        if userid not in self.members:
            raise KeyError(f"no member {userid!r}")

    def _require_relation(self, userid: str, external_userid: str) -> FollowRelation:
        relation = self.relation(userid, external_userid)
        if relation is None:
            raise KeyError(f"{external_userid!r} is not a customer of {userid!r}")
        return relation

    def _move_relation(self, transfer: CustomerTransfer) -> None:
        old = self.relations.get(transfer.handover_userid, {}).pop(transfer.external_userid, None)
        new = self.relate(transfer.takeover_userid, transfer.external_userid, add_way=201)  # 201: 离职/在职继承
        if old is not None:
            new.tag_ids = set(old.tag_ids)
            new.state = old.state
            new.remark = old.remark

    def _transfer_event(
        self, transfer: CustomerTransfer, change_type: str, userid: str, fail_reason: str | None = None
    ) -> str:
        return eventxml.change_external_contact(
            self.corp_id,
            self.clock.now_int(),
            change_type,
            userid,
            transfer.external_userid,
            source="DELETE_BY_TRANSFER" if change_type == "del_external_contact" else None,
            fail_reason=fail_reason,
        )

    def _chat_update(
        self,
        chat: GroupChat,
        detail: str,
        changed: list[str],
        last_version: int,
        *,
        join_scene: int | None = None,
        quit_scene: int | None = None,
    ) -> str:
        return eventxml.change_external_chat(
            self.corp_id,
            self.clock.now_int(),
            chat.chat_id,
            "update",
            update_detail=detail,
            join_scene=join_scene,
            quit_scene=quit_scene,
            member_change_list=changed,
            last_mem_ver=f"{chat.chat_id}:{last_version}",
            cur_mem_ver=f"{chat.chat_id}:{chat.version}",
        )
