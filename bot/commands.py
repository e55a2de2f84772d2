"""Chat commands: members type to the app, the bot answers by app message (``message/send``).

Each command is one function registered on its feature's router (bot/dispatch.py)::

    @router.command("客户", "customer", args=[Arg("名字|id", CUSTOMER)], roles=EVERYONE, help="客户档案")
    async def customer(call: Call) -> str: ...

It names its aliases (Chinese and English), its arguments, the roles allowed and its help line;
``帮助`` lists what the caller's role may use. Parsing forgives full-width spaces and punctuation,
quotes of either kind, and a command glued to its argument (``客户王小美``). Every command leaves
an audit row (who, what, result); a member gets ``SCRM_COMMAND_PER_MINUTE`` commands a minute
across all processes. An app answers the commands of its routers (``deps.routers``): the
``CommandTable`` of those routers, built once.

This module is the machinery only. What a role is, who the caller is and how an argument such as
a customer or a member is found belong to the domain, which registers them here (``EVERYONE`` and
``CUSTOMER`` above are theirs): ``use_access`` and the ``member`` kind in operators/roles.py, the
``customer`` kind (``@arg_kind``) in customers/lookup.py, each named by its feature's ``kinds``
(bot/feature.py), loaded and frozen at start.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import structlog
from tortoise.exceptions import IntegrityError

from bot.deps import Deps
from bot.feature import load_features
from bot.models.commands import CommandAudit
from bot.outbox import send_once_or_skip
from bot.registry import Registry
from bot.wecom import limits

if TYPE_CHECKING:
    from bot.dispatch import Router

__all__ = [
    "ARG_KINDS",
    "Access",
    "Arg",
    "Call",
    "Caller",
    "Command",
    "CommandTable",
    "Reply",
    "CommandError",
    "REST",
    "TEXT",
    "arg_kind",
    "commands_for",
    "command_table",
    "table_of",
    "handle_text",
    "parse",
    "tokenize",
    "say",
    "send_to_member",
    "use_access",
]

log = structlog.get_logger(__name__)

# The argument kinds the engine knows itself; others are registered with ``@arg_kind``.
TEXT, REST = "text", "rest"

_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "「": "」", "『": "』", "《": "》"}
# Separators besides spaces (after NFKC, full-width forms are ASCII already).
_SEPARATORS = frozenset(",;:、。，；：")
_PREFIXES = "/!#"


class CommandError(Exception):
    """Bad arguments or a refused request: the message is the reply (Chinese, for the member)."""


@dataclass(frozen=True, slots=True)
class Arg:
    name: str  # shown in help: 客户 <名字|id>
    kind: str = TEXT  # text, rest (the rest of the line), or a registered ``@arg_kind``
    optional: bool = False
    choices: Mapping[str, str] = field(default_factory=dict)  # accepted spelling → value

    @property
    def usage(self) -> str:
        return f"[{self.name}]" if self.optional else f"<{self.name}>"


@dataclass(frozen=True, slots=True)
class Caller:
    userid: str
    name: str
    role: str  # one of the registered Access.roles
    guide_id: int
    store_id: int | None


@dataclass(frozen=True, slots=True)
class Call:
    """What a command function receives: the caller, its resolved arguments, the app's deps."""

    deps: Deps
    caller: Caller
    args: Mapping[str, Any]
    event_key: str
    text: str

    def say(self, template_id: str, **values: Any) -> str:
        return say(self.deps, template_id, **values)


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply in WeCom markdown (``str`` replies go out as plain text)."""

    text: str
    markdown: bool = True


CommandFunc = Callable[[Call], Awaitable[str | Reply]]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    aliases: tuple[str, ...]
    args: tuple[Arg, ...]
    roles: frozenset[str] | None  # None: every role
    help: str
    func: CommandFunc

    def allows(self, role: str) -> bool:
        return self.roles is None or role in self.roles

    @property
    def usage(self) -> str:
        return " ".join([self.name, *(a.usage for a in self.args)])


class CommandTable:
    """The chat commands of some routers: by name, and by every spelling (name and aliases, lowered,
    as words), in the order they were declared. Two commands may share neither."""

    def __init__(self, commands: Iterable[Command]) -> None:
        self.commands: Registry[Command] = Registry("chat command", process_wide=False)
        self.spellings: Registry[Command] = Registry("chat command spelling", process_wide=False)
        for spec in commands:
            self.commands.add(spec.name, spec)
            for spelling in (spec.name, *spec.aliases):
                self.spellings.add(" ".join(tokenize(spelling.lower())), spec)
        self.commands.freeze()
        self.spellings.freeze()
        self._longest_first = sorted(((tuple(s.split(" ")), c) for s, c in self.spellings.items()),
                                     key=lambda pair: len(pair[0]), reverse=True)
        # One-word Chinese spellings, longest first: what a command glued to its argument starts with.
        self._glued = sorted(((s[0], c) for s, c in self._longest_first if len(s) == 1 and not s[0].isascii()),
                             key=lambda pair: len(pair[0]), reverse=True)
        known = {TEXT, REST, *ARG_KINDS}
        for spec in self.commands.values():
            for arg in spec.args:
                if arg.kind not in known and not arg.choices:
                    raise ValueError(f"command {spec.name!r}: unknown argument kind {arg.kind!r} "
                                     f"(known: {', '.join(sorted(known))})")

    def parse(self, text: str) -> tuple[Command | None, list[str]]:
        """The command a line names and its argument words; (None, words) when none matches."""
        words = tokenize(text)
        if not words:
            return None, []
        lowered = [w.lower() for w in words]
        for spelling, spec in self._longest_first:
            if tuple(lowered[: len(spelling)]) == spelling:
                return spec, words[len(spelling) :]
        # Glued to its argument: 客户王小美, 排行周 (Chinese names only: "helpme" stays unknown).
        for head, spec in self._glued:
            if lowered[0].startswith(head) and lowered[0] != head:
                return spec, [words[0][len(head) :], *words[1:]]
        return None, words

    def for_role(self, role: str) -> list[Command]:
        return [c for c in self.commands.values() if c.allows(role)]


@lru_cache(maxsize=16)
def table_of(routers: tuple[Router, ...]) -> CommandTable:
    load_features()  # the argument kinds and the Access the commands use
    return CommandTable(spec for router in routers for spec in router.commands)


def command_table(deps: Deps) -> CommandTable:
    """The commands this app answers: its routers' (built once per set of routers)."""
    return table_of(deps.routers)


def say(deps: Deps, template_id: str, **values: Any) -> str:
    return deps.config.templates.render(template_id, **values)


# --- what the domain registers ---------------------------------------------------------------------

ArgKind = Callable[[Deps, Caller, str], Awaitable[Any]]
ARG_KINDS: Registry[ArgKind] = Registry("argument kind")


def arg_kind(name: str) -> Callable[[ArgKind], ArgKind]:
    """Register how an argument kind is found from the word the member typed; the function raises
    CommandError (the reply) when nothing or several things match."""
    if name in (TEXT, REST):  # the engine's own
        raise ARG_KINDS.taken(name)
    return ARG_KINDS.register(name)


@dataclass(frozen=True, slots=True)
class Access:
    """Who writes and what their role is called: the domain's answer, registered once (use_access)."""

    caller: Callable[[Deps, str], Awaitable[Caller]]  # the member behind a userid, with their role
    role_name: Callable[[Deps, str], str]  # a role as members read it
    roles: tuple[str, ...]  # every role, in the order replies list them


ACCESS: Registry[Access] = Registry("access")  # one: who writes and the roles, under "access"


def use_access(access: Access) -> Access:
    """Register the one Access; a second, different one is refused."""
    return ACCESS.add("access", access)


def _the_access() -> Access:
    load_features()
    return ACCESS["access"]


# --- parsing ---------------------------------------------------------------------------------------


def tokenize(text: str) -> list[str]:
    """Words of a command line: NFKC (full-width → ASCII), quotes keep spaces, punctuation separates."""
    text = unicodedata.normalize("NFKC", text).strip().lstrip(_PREFIXES).strip()
    tokens: list[str] = []
    current: list[str] = []
    closing: str | None = None
    for char in text:
        if closing is not None:
            if char == closing:
                tokens.append("".join(current))
                current, closing = [], None
            else:
                current.append(char)
        elif char in _QUOTES:
            if current:
                tokens.append("".join(current))
            current, closing = [], _QUOTES[char]
        elif char.isspace() or char in _SEPARATORS:
            if current:
                tokens.append("".join(current))
            current = []
        else:
            current.append(char)
    if current:
        tokens.append("".join(current))
    return [t for t in (token.strip() for token in tokens) if t]


def parse(deps: Deps, text: str) -> tuple[Command | None, list[str]]:
    """The command of this app that a line names, and its argument words (CommandTable.parse)."""
    return command_table(deps).parse(text)


# --- resolving arguments ---------------------------------------------------------------------------


async def _resolve(deps: Deps, caller: Caller, spec: Command, words: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    rest = list(words)
    for arg in spec.args:
        if not rest:
            if arg.optional:
                continue
            raise CommandError(say(deps, "cmd_arg_missing", detail=arg.usage, command=spec.usage))
        if arg.kind == REST:
            values[arg.name], rest = " ".join(rest), []
            continue
        token = rest.pop(0)
        if arg.choices:
            if token.lower() not in arg.choices:
                spellings = "、".join(dict.fromkeys(arg.choices))
                raise CommandError(say(deps, "cmd_arg_choices", name=arg.name, detail=spellings, command=spec.usage))
            values[arg.name] = arg.choices[token.lower()]
        elif arg.kind == TEXT:
            values[arg.name] = token
        else:
            values[arg.name] = await ARG_KINDS[arg.kind](deps, caller, token)
    if rest:
        raise CommandError(say(deps, "cmd_arg_extra", detail=" ".join(rest), command=spec.usage))
    return values


# --- running ---------------------------------------------------------------------------------------


def commands_for(deps: Deps, role: str) -> list[Command]:
    return command_table(deps).for_role(role)


def role_names(deps: Deps, roles: Collection[str]) -> str:
    """The roles as members read them, in the Access's order: 店长、运营 …"""
    access = _the_access()
    return "、".join(access.role_name(deps, role) for role in access.roles if role in roles)


async def _over_limit(deps: Deps, userid: str) -> int:
    """0 within the limit; else how far over (1 on the first refused command this minute)."""
    window = int(deps.clock.timestamp() // 60)
    key = f"{{{deps.settings.scrm_redis_prefix}}}:commands:rate:{userid}:{window}"
    async with deps.redis.pipeline(transaction=False) as pipe:
        pipe.incr(key)
        pipe.expire(key, 120)
        count, _ = await pipe.execute()
    return max(0, int(count) - deps.settings.scrm_command_per_minute)


@dataclass(slots=True)
class Outcome:
    result: str  # ok, refused, unknown, bad_args, rate_limited, error
    reply: str
    command: str = ""
    detail: str = ""
    markdown: bool = False


async def run(deps: Deps, caller: Caller, text: str, event_key: str) -> Outcome:
    """Parse, check the role, resolve the arguments and run the command; never raises for bad input."""
    spec, words = parse(deps, text)
    if spec is None:
        return Outcome("unknown", say(deps, "cmd_unknown", command=(words or [""])[0][:20]))
    if not spec.allows(caller.role):
        access = _the_access()
        reply = say(deps, "cmd_refused", command=spec.name, role=access.role_name(deps, caller.role),
                    roles=role_names(deps, spec.roles or ()))
        return Outcome("refused", reply, spec.name)
    try:
        args = await _resolve(deps, caller, spec, words)
        answer = await spec.func(Call(deps, caller, args, event_key, text))
    except CommandError as err:
        return Outcome("bad_args", str(err), spec.name, str(err))
    except Exception as err:  # a broken command answers and is logged; the worker goes on
        log.exception("command_failed", command=spec.name, userid=caller.userid)
        return Outcome("error", say(deps, "cmd_error", command=spec.name), spec.name, f"{type(err).__name__}: {err}")
    if isinstance(answer, Reply):
        return Outcome("ok", answer.text, spec.name, markdown=answer.markdown)
    return Outcome("ok", answer, spec.name)


async def handle_text(deps: Deps, userid: str, text: str, event_key: str) -> Outcome | None:
    """A member's text to the app: run it as a command once, audit it, answer by app message.

    None when this message was handled before (a re-delivered event): nothing runs or goes out twice.
    """
    now = deps.clock.now()
    try:
        audit, created = await CommandAudit.get_or_create(
            event_key=event_key[:128], defaults={"userid": userid[:64], "text": text[:256], "created_at": now}
        )
    except IntegrityError:
        audit, created = await CommandAudit.get(event_key=event_key[:128]), False
    if not created and audit.result != "pending":
        await _reply(deps, userid, audit.reply, event_key)
        return None
    caller = await _the_access().caller(deps, userid)
    over = await _over_limit(deps, userid)
    if over:
        outcome = Outcome("rate_limited", say(deps, "cmd_rate_limited", count=deps.settings.scrm_command_per_minute))
        if over > 1:
            outcome.reply = ""  # told once a minute, not at every message
    else:
        outcome = await run(deps, caller, text, event_key)
    audit.role, audit.command, audit.result = str(caller.role), outcome.command[:32], outcome.result
    audit.detail = (outcome.detail or (outcome.reply.splitlines() or [""])[0])[:256]
    audit.reply = outcome.reply
    await audit.save(update_fields=["role", "command", "result", "detail", "reply"])
    log.info("command", userid=userid, role=str(caller.role), command=outcome.command, result=outcome.result)
    if outcome.reply:
        await _reply(deps, userid, outcome.reply, event_key, markdown=outcome.markdown)
    return outcome


def split_reply(text: str, limit: int = limits.TEXT_MAX_BYTES) -> list[str]:
    """Whole lines per message, each within ``limit`` bytes; a longer line goes out in pieces."""
    return limits.split(text, limit)


async def _reply(deps: Deps, userid: str, text: str, event_key: str, *, markdown: bool = False) -> None:
    """Send once per (message, part): a retried event re-sends only the parts that did not go out."""
    for index, part in enumerate(split_reply(text)):

        async def send(content: str = part) -> None:
            if markdown:
                await deps.wecom.send_markdown([userid], content)
            else:
                await deps.wecom.send_text([userid], content)

        await send_once_or_skip(f"reply:{event_key}:{index}", "command_reply", userid, send, deps.clock)


async def send_to_member(deps: Deps, userid: str, text: str, key: str, *, markdown: bool = False) -> None:
    """A later message about a command (a background job's progress or outcome), sent once per key."""
    await _reply(deps, userid, text, key, markdown=markdown)
